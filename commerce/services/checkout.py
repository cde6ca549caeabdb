"""Checkout: quote (the confirm step) and pay — a cart (or one Buy now line) becomes one order per shop.

Guarantees of ``checkout_pay``:
- atomic: the ``Checkout``, its orders, their items and events, the stock reservations, the
  buyer's limit usage and ONE ledger batch (key ``checkout:<id>:pay``) for every order commit
  together or not at all;
- stock never oversold: each line is reserved with a conditional UPDATE (``stock >= q``) in that
  transaction, listings locked in ascending id order; a line that no longer fits fails the whole
  checkout with ``SoldOut`` naming the item; a listing reaching 0 becomes ``sold_out``;
- idempotent by (buyer, key): the same key with the same request returns the same orders and
  moves nothing; with a different request it raises IdempotencyKeyReused.

Paying from another currency: an order in C paid from B moves buyer wallet[B] → FX_POOL[B]
and FX_POOL[C] → ESCROW[C]. The B amount is the SMALLEST one whose conversion at payments'
rate (mid less the spread, rounded down to C's minor unit, as ``payments.services.fx`` does)
covers the C total, so the buyer never pays more than the disclosed rate needs and escrow
always holds the full C total. The pay currency, unless the buyer chooses one, is the order
currency when all orders share one the buyer can cover (or it is their home currency), else
their home currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_countries import countries

from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import Conflict, IdempotencyKeyReused, Unprocessable, ValidationFailed
from core.money import MAX_AMOUNT_MINOR, Money, check_currency, format_money, minor_units
from ledger.models import Account, AccountKind
from ledger.services import InsufficientFunds, TransferSpec, system_account, transfers_post
from notifications.services import notify
from payments.services.common import check_idempotency_key, check_text, request_hash
from payments.services.fx import FxUnavailable, fx_mid_rate, fx_quote, usd_equivalent
from payments.services.wallet import wallet_account

from ..fees import current_fee_bps
from ..models import CartItem, Checkout, Listing, ListingKind, ListingStatus, Order, OrderItem, OrderStatus
from .cart import BlockedSeller, CartGroup, OrderLine, OwnListing, check_quantity, group_lines, listing_for_buyer
from .orders import announce, event_add, order_summary


class PriceChanged(Conflict):
    code = "price_changed"
    default_message = "The total changed since you confirmed: check it and confirm again."


class CartEmpty(ValidationFailed):
    code = "cart_empty"
    default_message = "Your cart is empty."


class CheckoutProblem(Unprocessable):
    code = "checkout_problem"
    default_message = "Some items cannot be bought right now."


class SoldOut(Conflict):
    code = "sold_out"
    default_message = "An item sold out before you paid."


class AddressInvalid(ValidationFailed):
    code = "invalid_address"
    default_message = "Enter a shipping address."


@dataclass
class CheckoutQuote:
    """What the confirm step shows: the groups (one order each), what leaves the buyer's wallet."""

    groups: list[CartGroup]
    pay_currency: str
    pay_total: int  # minor units of pay_currency
    fx_rate: Decimal | None  # applied rate (spread included) when exactly one conversion, else None
    needs_address: bool
    pay_amounts: list[int] = field(default_factory=list)  # per group, in pay_currency
    address: dict | None = None

    @property
    def is_fx(self) -> bool:
        return any(group.currency != self.pay_currency for group in self.groups)

    @property
    def pay_label(self) -> str:
        return format_money(self.pay_total, self.pay_currency)

    @property
    def currencies(self) -> list[str]:
        return sorted({group.currency for group in self.groups})


# --- inputs ---------------------------------------------------------------------------------

ADDRESS_FIELDS = {"name": 120, "line1": 200, "line2": 200, "city": 100, "postcode": 20}


def address_clean(address: object, *, required: bool) -> dict | None:
    """A clean shipping address dict, or None when none is needed (digital only)."""
    if not required:
        return None
    if not isinstance(address, dict):
        raise AddressInvalid(fields={"address": ["Required."]})
    clean = {}
    for name, limit in ADDRESS_FIELDS.items():
        clean[name] = check_text(
            address.get(name),
            field=name,
            label=name.replace("line", "address line "),
            max_length=limit,
            required=name != "line2",
        )
    country = address.get("country")
    country = country.strip().upper() if isinstance(country, str) else ""
    if country not in countries:
        raise AddressInvalid("Choose the country to ship to.", fields={"country": ["Unknown country."]})
    clean["country"] = country
    return clean


def _lines(user, buy_now) -> list:
    if buy_now is None:
        items = list(CartItem.objects.filter(user=user).select_related("listing__shop").order_by("added_at", "id"))
        if not items:
            raise CartEmpty()
        return items
    if not isinstance(buy_now, (tuple, list)) or len(buy_now) != 2:
        raise ValidationFailed("Choose an item and a quantity.", code="invalid_buy_now")
    listing_id, quantity = buy_now
    quantity = check_quantity(quantity)
    return [OrderLine(listing=listing_for_buyer(listing_id), quantity=quantity)]


def _default_pay_currency(user, groups: list[CartGroup]) -> str:
    currencies = {g.currency for g in groups}
    home = getattr(user, "home_currency", "") or "USD"
    if len(currencies) == 1:
        currency = next(iter(currencies))
        if currency == home:
            return currency
        total = sum(g.total for g in groups)
        account = Account.objects.filter(owner=user, kind=AccountKind.WALLET, currency=currency).first()
        if account is not None and account.available >= total:
            return currency
    return home


def pay_amount_for(total: int, currency: str, pay_currency: str) -> tuple[int, Decimal]:
    """The smallest ``pay_currency`` amount whose conversion (payments' rate, rounded down) covers
    ``total`` of ``currency``, and the applied rate. Verified against ``fx_quote`` itself."""
    mid, _ = fx_mid_rate(pay_currency, currency)
    rate = mid * (Decimal(1) - Decimal(settings.FX_SPREAD))
    if rate <= 0:
        raise FxUnavailable()
    p_from, p_to = minor_units(pay_currency), minor_units(currency)
    quantum = Decimal(1).scaleb(-p_to)

    def receives(send_minor: int) -> int:
        exact = Decimal(send_minor).scaleb(-p_from) * rate
        return int(exact.quantize(quantum, rounding=ROUND_DOWN).scaleb(p_to))

    target = Decimal(total).scaleb(-p_to)
    guess = int((target / rate).scaleb(p_from).to_integral_value(rounding=ROUND_CEILING))
    guess = max(1, guess)
    while receives(guess) < total:
        guess += 1
    while guess > 1 and receives(guess - 1) >= total:
        guess -= 1
    if guess > MAX_AMOUNT_MINOR:
        raise Unprocessable("That is too large to pay.", code="amount_too_large")
    check = fx_quote(send=Money(guess, pay_currency), to_currency=currency)
    if check.receive.amount < total:  # never: receives() mirrors fx_quote; belt and braces
        raise FxUnavailable()
    return guess, check.rate


def checkout_quote(
    user,
    *,
    buy_now: tuple[int, int] | None = None,
    pay_currency: str | None = None,
    address: dict | None = None,
) -> CheckoutQuote:
    """What paying would do, without doing it. Raises CartEmpty, CheckoutProblem (listing the
    problems), AddressInvalid (when ``address`` is given but bad), FxUnavailable."""
    groups = group_lines(user, _lines(user, buy_now))
    problems = [problem for group in groups for problem in group.problems]
    if problems:
        for group in groups:
            if group.shop.owner_id == user.pk:
                raise OwnListing("You cannot buy from your own shop.")
            if any(problem.startswith("You can't buy") for problem in group.problems):
                raise BlockedSeller(f"You can't buy from {group.shop.name}.")
        raise CheckoutProblem(" ".join(problems))
    needs_address = any(group.has_physical for group in groups)
    clean = None
    if address is not None and needs_address:
        clean = address_clean(address, required=True)
        for group in groups:
            for line in group.items:
                listing = line.listing
                if (
                    listing.kind == ListingKind.PHYSICAL
                    and listing.ships_to
                    and clean["country"] not in listing.ships_to
                ):
                    raise AddressInvalid(
                        f"“{listing.title}” does not ship to {countries.name(clean['country'])}.",
                        code="does_not_ship_there",
                        fields={"country": ["Not shipped there."]},
                    )
    pay_currency = check_currency(pay_currency) if pay_currency else _default_pay_currency(user, groups)
    pay_amounts, rates = [], set()
    for group in groups:
        if group.currency == pay_currency:
            pay_amounts.append(group.total)
        else:
            amount, rate = pay_amount_for(group.total, group.currency, pay_currency)
            pay_amounts.append(amount)
            rates.add((group.currency, rate))
    fx_rate = next(iter(rates))[1] if len(rates) == 1 else None
    return CheckoutQuote(
        groups=groups,
        pay_currency=pay_currency,
        pay_total=sum(pay_amounts),
        fx_rate=fx_rate,
        needs_address=needs_address,
        pay_amounts=pay_amounts,
        address=clean,
    )


# --- pay ------------------------------------------------------------------------------------


def _replay(user, key: str, fingerprint: str) -> list[Order] | None:
    existing = Checkout.objects.filter(buyer=user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return list(existing.orders.select_related("shop", "buyer").order_by("id"))


def _reserve_stock(lines) -> None:
    """Conditional UPDATE per listing (ascending ids: no deadlocks); SoldOut naming the item."""
    wanted: dict[int, int] = {}
    titles: dict[int, str] = {}
    for line in lines:
        wanted[line.listing.pk] = wanted.get(line.listing.pk, 0) + line.quantity
        titles[line.listing.pk] = line.listing.title
    for pk in sorted(wanted):
        quantity = wanted[pk]
        limited = Listing.objects.filter(pk=pk, stock__isnull=False)
        if limited.exists():
            updated = Listing.objects.filter(pk=pk, status=ListingStatus.ACTIVE, stock__gte=quantity).update(
                stock=F("stock") - quantity, updated_at=timezone.now()
            )
            if not updated:
                left = Listing.objects.filter(pk=pk).values_list("stock", flat=True).first() or 0
                if left:
                    raise SoldOut(f"Only {left} of “{titles[pk]}” left; change the quantity and try again.")
                raise SoldOut(f"“{titles[pk]}” sold out before you paid. Nothing was charged.")
            Listing.objects.filter(pk=pk, stock=0, status=ListingStatus.ACTIVE).update(status=ListingStatus.SOLD_OUT)
        elif not Listing.objects.filter(pk=pk, status=ListingStatus.ACTIVE).update(updated_at=timezone.now()):
            raise SoldOut(f"“{titles[pk]}” is no longer for sale. Nothing was charged.")


def checkout_pay(
    user,
    *,
    buy_now: tuple[int, int] | None = None,
    pay_currency: str | None = None,
    address: dict | None = None,
    idempotency_key: str,
    expected_total: int | None = None,
) -> list[Order]:
    """Pay for the cart (or ``buy_now`` = (listing id, quantity)): one order per shop, money into
    escrow. See the module docstring for the guarantees. Clears the bought cart rows.
    ``expected_total`` is what the confirm step showed (minor units of the pay currency): if the
    total is now different (a seller changed a price or shipping meanwhile), PriceChanged and
    nothing moves, so a buyer is never charged an amount they did not see.
    Raises CartEmpty, CheckoutProblem, AddressInvalid, SoldOut, InsufficientFunds, FxUnavailable,
    the compliance errors (AccountFrozen, VerificationRequired, LimitExceeded...), IdempotencyKeyReused."""
    key = check_idempotency_key(idempotency_key)
    if key is None:
        raise ValidationFailed("A checkout needs an idempotency key.", code="invalid_idempotency_key")
    fingerprint_lines = (
        [[int(buy_now[0]), buy_now[1]]]
        if isinstance(buy_now, (tuple, list)) and len(buy_now) == 2 and isinstance(buy_now[0], int)
        else buy_now
    )
    fingerprint = request_hash(buy_now=fingerprint_lines, pay_currency=pay_currency, address=address)
    replayed = _replay(user, key, fingerprint)
    if replayed is not None:
        return replayed

    quote = checkout_quote(user, buy_now=buy_now, pay_currency=pay_currency, address=address)
    if expected_total is not None and expected_total != quote.pay_total:
        raise PriceChanged(
            f"The total is now {format_money(quote.pay_total, quote.pay_currency)}, not "
            f"{format_money(expected_total, quote.pay_currency)}: a price or shipping changed. "
            "Check the new total and confirm again."
        )
    if quote.needs_address and quote.address is None:
        raise AddressInvalid("Enter the address to ship to.", fields={"address": ["Required."]})
    compliance.sending_allowed_check(user)
    usd_minor = usd_equivalent(quote.pay_total, quote.pay_currency)
    fee_bps = current_fee_bps()

    @retry_on_conflict
    def attempt() -> list[Order]:
        with transaction.atomic():
            checkout = Checkout.objects.create(buyer=user, idempotency_key=key, request_hash=fingerprint)
            lines = [line for group in quote.groups for line in group.items]
            _reserve_stock(lines)
            compliance.limit_reserve(user, usd_minor=usd_minor, reference=f"checkout:{checkout.pk}")
            orders, legs = [], []
            pay_wallet = wallet_account(user, quote.pay_currency)
            for group, paid in zip(quote.groups, quote.pay_amounts, strict=True):
                order = _order_create(checkout, user, group, paid, quote, fee_bps)
                orders.append(order)
                legs.extend(_pay_legs(order, pay_wallet))
            transfers_post(
                initiator=user, transfers=legs, idempotency_key=f"checkout:{checkout.pk}:pay", operation="checkout_pay"
            )
            if buy_now is None:
                CartItem.objects.filter(user=user, listing_id__in=[line.listing.pk for line in lines]).delete()
            for order in orders:
                _announce_paid(order)
            return orders

    try:
        return attempt()
    except IntegrityError:
        replayed = _replay(user, key, fingerprint)  # a concurrent request with the same key won
        if replayed is not None:
            return replayed
        raise
    except InsufficientFunds:
        account = Account.objects.filter(owner=user, kind=AccountKind.WALLET, currency=quote.pay_currency).first()
        have = max(account.available, 0) if account else 0
        raise InsufficientFunds(
            f"You have {format_money(have, quote.pay_currency)} available; this checkout needs "
            f"{format_money(quote.pay_total, quote.pay_currency)}. Add money first.",
            fields={"amount": ["Not enough money."]},
        ) from None


def _order_create(checkout, user, group: CartGroup, paid: int, quote: CheckoutQuote, fee_bps: int) -> Order:
    address = quote.address if group.has_physical else None
    now = timezone.now()
    order = Order.objects.create(
        checkout=checkout,
        buyer=user,
        shop=group.shop,
        status=OrderStatus.PAID,
        currency=group.currency,
        subtotal=group.subtotal,
        shipping=group.shipping,
        total=group.total,
        paid_amount=paid,
        paid_currency=quote.pay_currency,
        fee_bps=fee_bps,
        is_digital=group.is_digital,
        auto_release_at=(now + timedelta(hours=settings.COMMERCE_DIGITAL_RELEASE_HOURS)) if group.is_digital else None,
        **(
            {
                "ship_name": address["name"],
                "ship_line1": address["line1"],
                "ship_line2": address["line2"],
                "ship_city": address["city"],
                "ship_postcode": address["postcode"],
                "ship_country": address["country"],
            }
            if address
            else {}
        ),
    )
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                listing=line.listing,
                title=line.listing.title,
                kind=line.listing.kind,
                unit_price=line.listing.price,
                quantity=line.quantity,
                shipping=line.listing.shipping_price if line.listing.kind == ListingKind.PHYSICAL else 0,
            )
            for line in group.items
        ]
    )
    note = ""
    if order.paid_currency != order.currency:
        note = (
            f"Paid {format_money(paid, order.paid_currency)} converted to {format_money(order.total, order.currency)}"
        )
    event_add(order, OrderStatus.PAID, actor=user, note=note, amount=order.total)
    order._lines = group.items  # for the notification text
    return order


def _pay_legs(order: Order, pay_wallet) -> list[TransferSpec]:
    meta = {"order": order.pk}
    escrow = system_account(AccountKind.ESCROW, order.currency)
    if order.paid_currency == order.currency:
        return [TransferSpec(pay_wallet, escrow, order.total, order.currency, "order_pay", meta)]
    return [
        TransferSpec(
            pay_wallet,
            system_account(AccountKind.FX_POOL, order.paid_currency),
            order.paid_amount,
            order.paid_currency,
            "fx_out",
            meta,
        ),
        TransferSpec(
            system_account(AccountKind.FX_POOL, order.currency), escrow, order.total, order.currency, "order_pay", meta
        ),
    ]


def _announce_paid(order: Order) -> None:
    lines = getattr(order, "_lines", [])
    title = lines[0].listing.title if lines else "items"
    if len(lines) > 1:
        title += f" and {len(lines) - 1} more"
    notify(order.shop.owner, kind="order.paid", data={**order_summary(order), "title": title})
    announce(order, balances=[order.buyer_id])
