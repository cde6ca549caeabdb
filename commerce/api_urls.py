"""/api/v1/... routes of commerce (mounted by everything/urls.py: ``path("", include("commerce.api_urls"))``
in ``api_v1``): shops, listings, the cart, checkout, orders and their actions."""

from django.urls import path

from . import api

urlpatterns = [
    path("shops/", api.ShopListView.as_view(), name="api-shops"),
    path("shops/<slug:slug>/", api.ShopDetailView.as_view(), name="api-shop"),
    path("listings/", api.ListingListView.as_view(), name="api-listings"),
    path("listings/<int:pk>/", api.ListingDetailView.as_view(), name="api-listing"),
    path("listings/<int:pk>/publish/", api.ListingPublishView.as_view(), name="api-listing-publish"),
    path("listings/<int:pk>/archive/", api.ListingArchiveView.as_view(), name="api-listing-archive"),
    path("listings/<int:pk>/images/", api.ListingImageAddView.as_view(), name="api-listing-images"),
    path("listings/<int:pk>/images/<int:image_id>/", api.ListingImageDeleteView.as_view(), name="api-listing-image"),
    path("listings/<int:pk>/share/", api.ListingShareView.as_view(), name="api-listing-share"),
    path("listings/<int:pk>/file/", api.ListingFileView.as_view(), name="api-listing-file"),
    path("cart/", api.CartView.as_view(), name="api-cart"),
    path("checkout/quote/", api.CheckoutQuoteView.as_view(), name="api-checkout-quote"),
    path("checkout/", api.CheckoutView.as_view(), name="api-checkout"),
    path("orders/", api.OrderListView.as_view(), name="api-orders"),
    path("orders/<int:pk>/", api.OrderDetailView.as_view(), name="api-order"),
    path("orders/<int:pk>/ship/", api.OrderShipView.as_view(), name="api-order-ship"),
    path("orders/<int:pk>/confirm/", api.OrderConfirmView.as_view(), name="api-order-confirm"),
    path("orders/<int:pk>/refund/", api.OrderRefundView.as_view(), name="api-order-refund"),
    path("orders/<int:pk>/dispute/", api.OrderDisputeView.as_view(), name="api-order-dispute"),
    path(
        "orders/<int:pk>/items/<int:item_id>/download/",
        api.OrderDownloadView.as_view(),
        name="api-order-download",
    ),
]
