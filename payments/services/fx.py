"""Foreign exchange: the rate table, quotes with the disclosed spread, USD equivalents.

Rates are mid-market ``Decimal``s ("1 base = rate quote"). The rate in force
for a pair is the newest row for it; failing that the inverse of the newest
row for the reverse pair; failing that a cross through USD.

Roundings (all explicit):
- what arrives is the sent amount times ``mid * (1 - FX_SPREAD)``, rounded
  DOWN to the receiving currency's minor unit, so a conversion never pays out
  more than the disclosed rate; the sub-unit remainder stays in the FX pool;
- USD equivalents (for limits and risk) use the mid rate, rounded half-up
  to the cent.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import Unprocessable, ValidationFailed
from core.money import MAX_AMOUNT_MINOR, InvalidAmount, Money, check_currency, minor_units

from ..models import FxRate


class FxUnavailable(Unprocessable):
    code = "fx_unavailable"
    default_message = "We cannot convert between these currencies right now."


class AmountTooSmallToConvert(Unprocessable):
    code = "amount_too_small_to_convert"
    default_message = "That amount is too small to convert."


@dataclass(frozen=True)
class FxQuote:
    """What a conversion does: ``send`` leaves, ``receive`` arrives at ``rate`` (spread included)."""

    send: Money
    receive: Money
    mid_rate: Decimal
    rate: Decimal
    spread: Decimal
    as_of: datetime | None

    @property
    def is_conversion(self) -> bool:
        return self.send.currency != self.receive.currency

    def as_dict(self) -> dict:
        return {
            "send": {"amount": str(self.send.decimal), "currency": self.send.currency},
            "receive": {"amount": str(self.receive.decimal), "currency": self.receive.currency},
            "mid_rate": str(self.mid_rate),
            "rate": str(self.rate),
            "spread": str(self.spread),
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


def _latest(base: str, quote: str) -> FxRate | None:
    return FxRate.objects.filter(base=base, quote=quote).order_by("-as_of", "-id").first()


def fx_mid_rate(base: str, quote: str) -> tuple[Decimal, datetime | None]:
    """The mid rate in force (1 base = rate quote) and when it was published."""
    base, quote = check_currency(base), check_currency(quote)
    if base == quote:
        return Decimal(1), None
    direct = _latest(base, quote)
    if direct:
        return direct.rate, direct.as_of
    inverse = _latest(quote, base)
    if inverse:
        return Decimal(1) / inverse.rate, inverse.as_of
    if "USD" not in (base, quote):
        try:
            to_usd, at1 = fx_mid_rate(base, "USD")
            from_usd, at2 = fx_mid_rate("USD", quote)
        except FxUnavailable:
            pass
        else:
            return to_usd * from_usd, min(d for d in (at1, at2) if d)
    raise FxUnavailable(f"We have no exchange rate from {base} to {quote} yet.")


# A payment records its applied rate in a NUMERIC(24, 12) column: at most 12 digits before the point.
MAX_APPLIED_RATE = Decimal(10) ** 12


def fx_quote(*, send: Money, to_currency: str) -> FxQuote:
    """Quote converting ``send`` into ``to_currency`` with the spread. Same currency: no conversion, no spread."""
    to_currency = check_currency(to_currency)
    if send.currency == to_currency:
        return FxQuote(send, send, Decimal(1), Decimal(1), Decimal(0), None)
    mid, as_of = fx_mid_rate(send.currency, to_currency)
    spread = Decimal(settings.FX_SPREAD)
    rate = mid * (Decimal(1) - spread)
    if not Decimal("1e-12") <= rate < MAX_APPLIED_RATE:  # Payment.fx_rate is NUMERIC(24, 12)
        raise FxUnavailable(f"The exchange rate from {send.currency} to {to_currency} is out of range.")
    exact = send.decimal * rate
    places = minor_units(to_currency)
    # Checked before rounding: an absurd product would overflow the decimal context, and
    # anything above MAX_AMOUNT_MINOR would overflow the columns.
    if exact > Decimal(MAX_AMOUNT_MINOR).scaleb(-places):
        raise InvalidAmount(
            f"{send} would arrive as more than any wallet can hold.", fields={"amount": ["The amount is too large."]}
        )
    received = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    received_minor = int(received.scaleb(places))
    if received_minor <= 0:
        raise AmountTooSmallToConvert(
            f"{send} is too small to convert to {to_currency}.", fields={"amount": ["Too small to convert."]}
        )
    return FxQuote(send, Money(received_minor, to_currency), mid, _plain(rate), spread, as_of)


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, never in exponent form (``1990``, not ``1.99E+3``)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def usd_equivalent(amount_minor: int, currency: str) -> int:
    """``amount_minor`` of ``currency`` in US cents at the mid rate (half-up). For limits and risk."""
    currency = check_currency(currency)
    if currency == "USD":
        return amount_minor
    mid, _ = fx_mid_rate(currency, "USD")
    value = Decimal(amount_minor).scaleb(-minor_units(currency)) * mid
    return int(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).scaleb(2))


RATE_QUANTUM = Decimal("1e-12")  # FxRate.rate has 12 decimal places


def fx_rate_set(
    *, base: str, quote: str, rate: Decimal | str, as_of: datetime | None = None, source: str = "", user=None
) -> FxRate:
    """Record a new mid rate for a pair (rows are never edited: the newest wins)."""
    base, quote = check_currency(base), check_currency(quote)
    if base == quote:
        raise ValidationFailed("A rate needs two different currencies.", code="invalid_rate")
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        raise ValidationFailed(f"{rate!r} is not a rate.", code="invalid_rate") from None
    if not value.is_finite() or value <= 0 or value > Decimal("1e9"):
        raise ValidationFailed(f"{rate!r} is not a sensible rate.", code="invalid_rate")
    # The column keeps 12 decimal places: round here (half-even) so every database stores the
    # same value, and refuse a rate that would round to zero (the CHECK would refuse it anyway).
    value = value.quantize(RATE_QUANTUM)
    if value <= 0:
        raise ValidationFailed(f"{rate!r} is too small: rates have at most 12 decimal places.", code="invalid_rate")
    return FxRate.objects.create(
        base=base, quote=quote, rate=value, as_of=as_of or timezone.now(), source=source[:64], created_by=user
    )


def fx_rates_load_csv(text: str, *, source: str = "csv", user=None) -> int:
    """Load rates from CSV text with a header ``base,quote,rate[,as_of]``. All rows or none.

    ``as_of`` is ISO 8601 (default: now). Returns how many rates were recorded.
    Raises ValidationFailed naming the first bad line.
    """
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ValidationFailed(f"Line 1: {exc}", code="invalid_csv") from None
    if not fieldnames or not {"base", "quote", "rate"} <= {f.strip().lower() for f in fieldnames}:
        raise ValidationFailed("The CSV needs a header line: base,quote,rate[,as_of]", code="invalid_csv")
    count = 0
    with transaction.atomic():
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ValidationFailed(f"Line {reader.line_num}: {exc}", code="invalid_csv") from None
            line_no = reader.line_num  # the physical line (blank lines and quoted newlines counted)
            if None in raw:  # DictReader puts surplus cells under the key None
                raise ValidationFailed(f"Line {line_no}: more cells than the header has.", code="invalid_csv")
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
            as_of = None
            if row.get("as_of"):
                try:
                    as_of = parse_datetime(row["as_of"])
                except ValueError:  # well-formed but impossible, like 2026-02-30
                    as_of = None
                if as_of is None:
                    raise ValidationFailed(
                        f"Line {line_no}: {row['as_of']!r} is not an ISO date-time.", code="invalid_csv"
                    )
                if timezone.is_naive(as_of):
                    as_of = timezone.make_aware(as_of, UTC)
            try:
                fx_rate_set(
                    base=row.get("base", ""),
                    quote=row.get("quote", ""),
                    rate=row.get("rate", ""),
                    as_of=as_of,
                    source=source,
                    user=user,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(f"Line {line_no}: {exc.message}", code="invalid_csv") from None
            count += 1
    return count
