"""HTML: the monthly statement page and the CSV export of any date range (/wallet/statements/...).

Both read only the signed-in user's own wallet accounts (``payments.statements``).
Bad input (a month or date that is not one, a range over five years, an unknown
currency) answers a 400 page saying what to fix, never a 500.
"""

from __future__ import annotations

import csv
import math

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.errors import ValidationFailed
from core.money import CURRENCIES, check_currency

from ..statements import (
    Statement,
    month_period,
    period_parse,
    statement_currencies,
    statement_get,
    statement_lines,
    statement_lines_iter,
)

PAGE_SIZE = 100
CSV_HEADER = ["date", "description", "counterparty", "reference", "amount", "currency", "balance"]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Text for a CSV cell that no spreadsheet will run: formula-like text gets a leading quote."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _bad_request(request, error: ValidationFailed, *, back: str = ""):
    return render(
        request,
        "payments/statements/bad_request.html",
        {"message": error.message, "back": back or "/wallet/statements/"},
        status=400,
    )


def _default_currency(user, held: list[str]) -> str:
    home = getattr(user, "home_currency", "") or "USD"
    return home if home in held or not held else held[0]


def _currency_param(request, held: list[str]) -> str:
    raw = request.GET.get("currency")
    if not raw:
        return _default_currency(request.user, held)
    return check_currency(raw.strip()[:8])


def _page_param(request) -> int:
    raw = (request.GET.get("page") or "1").strip()
    return int(raw) if raw.isdigit() and raw.isascii() and len(raw) < 7 else 1


@login_required
@require_GET
def statement_page(request):
    """A month's statement: opening, in, out, closing, lines with running balance, pending holds."""
    try:
        period = month_period(request.user, request.GET.get("month"))
        held = statement_currencies(request.user)
        currency = _currency_param(request, held)
    except ValidationFailed as exc:
        return _bad_request(request, exc)
    statement = statement_get(request.user, currency=currency, period=period)
    pages = max(1, math.ceil(statement.line_count / PAGE_SIZE))
    page = min(_page_param(request), pages)
    lines = statement_lines(statement, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    today = timezone.localdate(timezone.now(), period.tz)
    choices = held if currency in held else [*held, currency]
    return render(
        request,
        "payments/statements/statement.html",
        {
            "statement": statement,
            "period": period,
            "lines": lines,
            "currency": currency,
            "currencies": choices,
            "all_currencies": list(CURRENCIES),
            "month_value": period.start.strftime("%Y-%m"),
            "previous_month": period.previous_month.strftime("%Y-%m"),
            "next_month": period.next_month.strftime("%Y-%m") if period.next_month <= today else "",
            "page": page,
            "pages": pages,
            "page_size": PAGE_SIZE,
            "first_line_number": (page - 1) * PAGE_SIZE + 1,
            "time_zone": period.tz.key,
        },
    )


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_rows(statement: Statement):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    tz = statement.period.tz
    for line in statement_lines_iter(statement):
        counterparty = line.counterparty.handle if line.counterparty is not None else line.counterparty_label
        yield writer.writerow(
            [
                line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                csv_safe(line.description),
                csv_safe(counterparty),
                csv_safe(line.reference),
                f"{line.amount_decimal:f}",
                line.currency,
                f"{line.balance_decimal:f}",
            ]
        )


@login_required
@require_GET
def statement_csv(request):
    """Stream the lines of any date range (≤ 5 years) as CSV, with running balances, as a download."""
    back = "/wallet/statements/"
    try:
        period = period_parse(request.user, start=request.GET.get("start"), end=request.GET.get("end"))
        currency = _currency_param(request, statement_currencies(request.user))
    except ValidationFailed as exc:
        return _bad_request(request, exc, back=back)
    statement = statement_get(request.user, currency=currency, period=period, with_pending=False)
    filename = f"everything-statement-{currency}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response = StreamingHttpResponse(_csv_rows(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("statements/", statement_page, name="statements"),
    path("statements/export.csv", statement_csv, name="statement_csv"),
]
