"""The buyer's cart: one ``CartItem`` per listing; grouped per shop for checkout.

A listing can be put in the cart when it is active, its shop is not suspended, it is not the
buyer's own, no block stands between buyer and seller, and the quantity (1–99) is in stock.
``cart_groups`` re-checks all of that at read time (a listing may have sold out since) and
lists the problems per group instead of raising, so the cart page can show them; checkout
refuses a cart that has any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from accounts.models import Block
from accounts.selectors import is_blocked_between
from core.errors import NotFound, NotPermitted, Unprocessable, ValidationFailed
from core.money import format_money

from ..models import CartItem, Listing, ListingKind, ListingStatus, Shop

QUANTITY_MAX = 99


class NotBuyable(Unprocessable):
    code = "not_buyable"
    default_message = "That item cannot be bought right now."


class OwnListing(NotPermitted):
    code = "own_listing"
    default_message = "You cannot buy from your own shop."


class BlockedSeller(NotPermitted):
    code = "blocked"
    default_message = "You can't buy from this shop."


class NotEnoughStock(Unprocessable):
    code = "not_enough_stock"
    default_message = "There are not enough of that item in stock."


@dataclass
class OrderLine:
    """A listing and a quantity that is not (or not yet) a cart row: Buy now."""

    listing: Listing
    quantity: int
    id: int | None = None

    @property
    def line_total(self) -> int:
        return self.listing.price * self.quantity


@dataclass
class CartGroup:
    """What one shop's part of the cart costs: one order at checkout."""

    shop: Shop
    items: list = field(default_factory=list)  # CartItem or OrderLine (both: .listing, .quantity)
    subtotal: int = 0
    shipping: int = 0
    total: int = 0
    currency: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def has_physical(self) -> bool:
        return any(item.listing.kind == ListingKind.PHYSICAL for item in self.items)

    @property
    def is_digital(self) -> bool:
        return not self.has_physical

    @property
    def total_label(self) -> str:
        return format_money(self.total, self.currency) if self.currency else ""


def check_quantity(quantity: object, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not low <= quantity <= QUANTITY_MAX:
        raise ValidationFailed(
            f"Choose a quantity from {low} to {QUANTITY_MAX}.",
            code="invalid_quantity",
            fields={"quantity": ["Out of range."]},
        )
    return quantity


def listing_for_buyer(listing) -> Listing:
    """A listing by object or id, with its shop; NotFound when it does not exist or is a draft."""
    pk = listing.pk if isinstance(listing, Listing) else listing
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That item does not exist.", code="listing_not_found")
    found = Listing.objects.select_related("shop").filter(pk=pk).exclude(status=ListingStatus.DRAFT).first()
    if found is None:
        raise NotFound("That item does not exist.", code="listing_not_found")
    return found


def line_problem(listing: Listing, quantity: int, *, user, blocked: set[int] | None = None) -> str | None:
    """Why ``user`` cannot buy ``quantity`` × ``listing`` now, or None. ``blocked``: seller ids
    with a block either way (precomputed for many lines), else one query."""
    shop = listing.shop
    if shop.owner_id == user.pk:
        return f"“{listing.title}” is from your own shop."
    if blocked is not None:
        if shop.owner_id in blocked:
            return f"You can't buy from {shop.name}."
    elif is_blocked_between(user, shop.owner_id):
        return f"You can't buy from {shop.name}."
    if shop.is_suspended:
        return f"{shop.name} is not selling at the moment."
    if listing.status == ListingStatus.SOLD_OUT or (listing.stock is not None and listing.stock <= 0):
        return f"“{listing.title}” is sold out."
    if listing.status != ListingStatus.ACTIVE:
        return f"“{listing.title}” is no longer for sale."
    if listing.stock is not None and quantity > listing.stock:
        return f"Only {listing.stock} of “{listing.title}” left."
    return None


def _raise_for(problem: str, listing: Listing, user) -> None:
    if listing.shop.owner_id == user.pk:
        raise OwnListing(problem)
    if problem.startswith("You can't buy"):
        raise BlockedSeller(problem)
    if problem.startswith("Only "):
        raise NotEnoughStock(problem, fields={"quantity": [problem]})
    raise NotBuyable(problem)


def blocked_seller_ids(user, seller_ids) -> set[int]:
    """Of ``seller_ids``, those with a block either way with ``user`` (one query)."""
    seller_ids = set(seller_ids)
    if not seller_ids:
        return set()
    rows = Block.objects.filter(
        Q(blocker_id=user.pk, blocked_id__in=seller_ids) | Q(blocked_id=user.pk, blocker_id__in=seller_ids)
    ).values_list("blocker_id", "blocked_id")
    return {a if a != user.pk else b for a, b in rows}


def cart_add(user, *, listing, quantity=1) -> CartItem:
    """Add ``quantity`` of a listing to the cart (adds to a row already there). Checks it is buyable."""
    quantity = check_quantity(quantity)
    listing = listing_for_buyer(listing)
    existing = CartItem.objects.filter(user=user, listing=listing).first()
    wanted = quantity + (existing.quantity if existing else 0)
    if wanted > QUANTITY_MAX:
        raise ValidationFailed(
            f"At most {QUANTITY_MAX} of one item per order.",
            code="invalid_quantity",
            fields={"quantity": ["Too many."]},
        )
    problem = line_problem(listing, wanted, user=user)
    if problem:
        _raise_for(problem, listing, user)
    if existing:
        CartItem.objects.filter(pk=existing.pk).update(quantity=F("quantity") + quantity)
        existing.refresh_from_db()
        return existing
    try:
        with transaction.atomic():
            return CartItem.objects.create(user=user, listing=listing, quantity=quantity)
    except IntegrityError:  # a double click raced us: add to the row it made
        CartItem.objects.filter(user=user, listing=listing).update(quantity=F("quantity") + quantity)
        return CartItem.objects.get(user=user, listing=listing)


def cart_set_quantity(user, *, listing, quantity) -> CartItem | None:
    """Set the quantity of a listing in the cart; 0 removes it (returns None)."""
    quantity = check_quantity(quantity, allow_zero=True)
    pk = listing.pk if isinstance(listing, Listing) else listing
    item = CartItem.objects.select_related("listing__shop").filter(user=user, listing_id=pk).first()
    if item is None:
        raise NotFound("That item is not in your cart.", code="cart_item_not_found")
    if quantity == 0:
        item.delete()
        return None
    if quantity > item.quantity:
        problem = line_problem(item.listing, quantity, user=user)
        if problem:
            _raise_for(problem, item.listing, user)
    item.quantity = quantity
    item.save(update_fields=["quantity"])
    return item


def cart_remove(user, *, listing) -> None:
    """Take a listing out of the cart (nothing happens if it is not there)."""
    pk = listing.pk if isinstance(listing, Listing) else listing
    CartItem.objects.filter(user=user, listing_id=pk).delete()


def group_lines(user, lines) -> list[CartGroup]:
    """Group ``lines`` (objects with .listing (shop selected) and .quantity) per shop, with totals
    and problems. One query for blocks, whatever the number of shops."""
    groups: dict[int, CartGroup] = {}
    blocked = blocked_seller_ids(user, {line.listing.shop.owner_id for line in lines})
    for line in lines:
        listing = line.listing
        group = groups.get(listing.shop_id)
        if group is None:
            group = groups[listing.shop_id] = CartGroup(shop=listing.shop, currency=listing.currency)
        group.items.append(line)
        if listing.currency != group.currency:
            group.problems.append(
                f"{listing.shop.name} sells in more than one currency here: buy “{listing.title}” separately."
            )
            continue
        group.subtotal += listing.price * line.quantity
        if listing.kind == ListingKind.PHYSICAL:
            group.shipping += listing.shipping_price
        problem = line_problem(listing, line.quantity, user=user, blocked=blocked)
        if problem:
            group.problems.append(problem)
    for group in groups.values():
        group.total = group.subtotal + group.shipping
    return list(groups.values())


def cart_groups(user) -> list[CartGroup]:
    """The cart grouped per shop (in the order items were added). Two queries."""
    items = list(CartItem.objects.filter(user=user).select_related("listing__shop").order_by("added_at", "id"))
    return group_lines(user, items)
