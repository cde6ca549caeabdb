"""Commerce services: shops, listings, cart, checkout, orders (escrow), disputes.

Every action is a ``<noun>_<verb>(actor, *, ...)`` function owning its transaction and raising
``core.errors`` subclasses. Money moves only through ``ledger.services`` (see ``orders`` for the
ledger shape of pay / release / refund and ``fees`` for the fee rounding).
"""

from .cart import CartGroup, OrderLine, cart_add, cart_groups, cart_remove, cart_set_quantity
from .checkout import CheckoutQuote, checkout_pay, checkout_quote
from .disputes import dispute_open, dispute_resolve
from .listings import (
    listing_archive,
    listing_create,
    listing_digital_file_set,
    listing_image_add,
    listing_image_remove,
    listing_publish,
    listing_update,
)
from .orders import (
    order_confirm_received,
    order_download,
    order_for_party,
    order_refund,
    order_release,
    order_ship,
    orders_auto_release_due,
)
from .shops import shop_open, shop_suspend, shop_unsuspend, shop_update

__all__ = [
    "CartGroup",
    "CheckoutQuote",
    "OrderLine",
    "cart_add",
    "cart_groups",
    "cart_remove",
    "cart_set_quantity",
    "checkout_pay",
    "checkout_quote",
    "dispute_open",
    "dispute_resolve",
    "listing_archive",
    "listing_create",
    "listing_digital_file_set",
    "listing_image_add",
    "listing_image_remove",
    "listing_publish",
    "listing_update",
    "order_confirm_received",
    "order_download",
    "order_for_party",
    "order_refund",
    "order_release",
    "order_ship",
    "orders_auto_release_due",
    "shop_open",
    "shop_suspend",
    "shop_unsuspend",
    "shop_update",
]
