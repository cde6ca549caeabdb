"""API: ``GET /api/v1/statements/`` — a statement of the caller's own wallet for any date range.

Lines come in posting order with their running balance, ``limit`` at a time;
``next`` is the URL of the following page (keyset on the transfer id), or null.
Money is a decimal string in major units with a sign (money out is negative).
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.money import check_currency, to_decimal

from ..statements import (
    StatementLine,
    month_period,
    period_parse,
    statement_currencies,
    statement_get,
    statement_lines_after,
)

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


class StatementLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The ledger transfer id (also the paging key).")
    date = serializers.DateTimeField(help_text="When it posted, in the user's time zone.")
    description = serializers.CharField()
    counterparty = serializers.CharField(allow_null=True, help_text='"@handle", a card label, or null.')
    reference = serializers.CharField(help_text='"payment-12", "topup-3", "cashout-4" or "transfer-99".')
    amount = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=True)
    currency = serializers.CharField()
    balance = serializers.DecimalField(
        max_digits=30, decimal_places=3, coerce_to_string=True, allow_null=True, help_text="Null on pending lines."
    )
    kind = serializers.CharField()
    pending = serializers.BooleanField()


class StatementSerializer(serializers.Serializer):
    currency = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Inclusive.")
    time_zone = serializers.CharField(help_text="Days run midnight to midnight in this zone.")
    opening_balance = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=True)
    total_in = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=True)
    total_out = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=True)
    closing_balance = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=True)
    line_count = serializers.IntegerField()
    lines = StatementLineSerializer(many=True)
    pending = StatementLineSerializer(many=True, help_text="Holds made in the period that still reserve money.")
    next = serializers.CharField(allow_null=True)


def _line(line: StatementLine, tz) -> dict:
    return {
        "id": line.transfer_id,
        "date": timezone.localtime(line.at, tz).isoformat(),
        "description": line.description,
        "counterparty": line.counterparty_label or None,
        "reference": line.reference,
        "amount": f"{line.amount_decimal:f}",
        "currency": line.currency,
        "balance": None if line.balance is None else f"{line.balance_decimal:f}",
        "kind": line.kind,
        "pending": line.pending,
    }


def _int_param(request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not raw.isdigit() or not raw.isascii() or len(raw) > 19 or int(raw) > maximum:
        raise ValidationFailed(
            f"{name} must be a whole number from 0 to {maximum}.", fields={name: ["Not a valid number."]}
        )
    return int(raw)


class StatementView(APIView):
    @extend_schema(
        summary="Your statement for a date range",
        description=(
            "Opening and closing balances, totals, and every posted movement of your wallet in `currency` "
            "between `start` and `end` (inclusive, at most five years; default: this month), with the "
            "running balance after each line. Days are midnight to midnight in your time zone. Pending "
            "holds are listed apart and are not in the balances. Pass `after=<last line id>` (the `next` "
            "link does) for the following page."
        ),
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (YYYY-MM-DD)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive (YYYY-MM-DD)."),
            OpenApiParameter("currency", OpenApiTypes.STR, description="ISO 4217 code; default your home currency."),
            OpenApiParameter("after", OpenApiTypes.INT, description="Only lines after this transfer id."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Lines per page (default {DEFAULT_LIMIT}, max {MAX_LIMIT})."
            ),
        ],
        responses={200: StatementSerializer},
        tags=["wallet"],
    )
    def get(self, request):
        user = request.user
        start, end = request.query_params.get("start"), request.query_params.get("end")
        period = period_parse(user, start=start, end=end) if start or end else month_period(user)
        raw_currency = (request.query_params.get("currency") or "").strip()[:8]
        if raw_currency:
            currency = check_currency(raw_currency)
        else:
            held = statement_currencies(user)
            home = user.home_currency or "USD"
            currency = home if home in held or not held else held[0]
        after = _int_param(request, "after", 0, 2**63 - 1)
        limit = max(1, _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT))

        statement = statement_get(user, currency=currency, period=period, with_pending=not after)
        lines = statement_lines_after(statement, after=after, limit=limit + 1)
        next_url = None
        if len(lines) > limit:  # one more than asked for: there is a next page
            lines = lines[:limit]
            query = request.query_params.copy()
            query["start"], query["end"] = period.start.isoformat(), period.end.isoformat()
            query["currency"], query["after"] = currency, str(lines[-1].transfer_id)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        tz = period.tz
        return Response(
            {
                "currency": currency,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "time_zone": tz.key,
                "opening_balance": f"{to_decimal(statement.opening, currency):f}",
                "total_in": f"{to_decimal(statement.total_in, currency):f}",
                "total_out": f"{to_decimal(statement.total_out, currency):f}",
                "closing_balance": f"{to_decimal(statement.closing, currency):f}",
                "line_count": statement.line_count,
                "lines": [_line(line, tz) for line in lines],
                "pending": [_line(line, tz) for line in statement.pending],
                "next": next_url,
            }
        )


urlpatterns = [path("statements/", StatementView.as_view(), name="api-statements")]
