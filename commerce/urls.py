"""/shop/... pages (mounted by everything/urls.py as ``path("shop/", include("commerce.urls"))``).

The shop page ``<slug>/`` comes last; the services refuse slugs that are reserved words here
(cart, orders, sell, checkout, listings, media, new, search), so a shop never hides a page.
"""

from django.urls import path

from .views import cart, listings, marketplace, media, orders, seller, shops

app_name = "commerce"

urlpatterns = [
    path("", marketplace.marketplace, name="marketplace"),
    path("listings/<int:pk>/", listings.listing_page, name="listing"),
    path("cart/", cart.cart_page, name="cart"),
    path("cart/add/", cart.cart_add, name="cart_add"),
    path("cart/update/", cart.cart_update, name="cart_update"),
    path("cart/remove/", cart.cart_remove, name="cart_remove"),
    path("checkout/", cart.checkout, name="checkout"),
    path("checkout/pay/", cart.checkout_pay, name="checkout_pay"),
    path("orders/", orders.orders_page, name="orders"),
    path("orders/<int:pk>/", orders.order_page, name="order"),
    path("orders/<int:pk>/ship/", orders.order_ship, name="order_ship"),
    path("orders/<int:pk>/confirm/", orders.order_confirm, name="order_confirm"),
    path("orders/<int:pk>/refund/", orders.order_refund, name="order_refund"),
    path("orders/<int:pk>/dispute/", orders.order_dispute, name="order_dispute"),
    path("orders/<int:pk>/items/<int:item_id>/download", orders.order_download, name="order_download"),
    path("sell/", seller.sell, name="sell"),
    path("sell/open/", shops.shop_open, name="shop_open"),
    path("sell/settings/", shops.shop_settings, name="shop_settings"),
    path("sell/listings/", listings.seller_listings, name="sell_listings"),
    path("sell/listings/new/", listings.listing_new, name="listing_new"),
    path("sell/listings/<int:pk>/edit/", listings.listing_edit, name="listing_edit"),
    path("sell/listings/<int:pk>/images/", listings.listing_image_add, name="listing_image_add"),
    path(
        "sell/listings/<int:pk>/images/<int:image_id>/remove/",
        listings.listing_image_remove,
        name="listing_image_remove",
    ),
    path("sell/listings/<int:pk>/file/", listings.listing_digital_file, name="listing_file"),
    path("sell/listings/<int:pk>/publish/", listings.listing_publish, name="listing_publish"),
    path("sell/listings/<int:pk>/archive/", listings.listing_archive, name="listing_archive"),
    path("sell/listings/<int:pk>/share/", listings.listing_share, name="listing_share"),
    path("sell/orders/", seller.seller_orders, name="sell_orders"),
    path("media/listing/<int:pk>", media.listing_image, name="listing_image"),
    path("media/logo/<int:pk>", media.shop_logo, name="shop_logo"),
    path("<slug:slug>/", shops.shop_page, name="shop"),
]
