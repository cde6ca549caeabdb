"""API of loans (mounted at /api/v1/).

- ``GET /loans/offer/?currency=USD``: the score line by line, eligibility, the limit, terms and APR;
- ``POST /loans/quote/`` {amount, currency, term_months}: the disclosure with its schedule (moves nothing);
- ``GET /loans/``, ``POST /loans/`` (Idempotency-Key required): accept a loan (disbursed into the wallet);
- ``GET /loans/{id}/``: the loan, its schedule and today's payoff quote;
- ``POST /loans/{id}/repay/`` {amount?} (Idempotency-Key required): pay early, or pay off without an amount.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IDEMPOTENCY_KEY_REQUIRED, StrictCharField, decimal_text, error_responses
from core.errors import NotFound, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import Money, check_currency

from .selectors import eligibility, loan_for_user, loans_of
from .services import loan_accept, loan_quote, loan_repay, payoff_quote

TAGS = ["loans"]


def _money(amount: str, currency: str) -> Money:
    try:
        currency = check_currency(currency)
        if not amount.isascii():
            raise ValidationFailed("Enter an amount in ASCII digits.", code="invalid_amount")
        return Money.parse(amount, currency)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, code=error.code, fields={"amount": [error.message]}) from None


def _row(row, currency: str) -> dict:
    data = {
        "number": row.number,
        "due_date": row.due_date.isoformat(),
        "amount": decimal_text(row.amount, currency),
        "principal": decimal_text(row.principal, currency),
        "interest": decimal_text(row.interest, currency),
    }
    if hasattr(row, "status"):
        data["status"] = row.status
        data["late_fee"] = decimal_text(row.late_fee_charged, currency)
    return data


def _disclosure(d) -> dict:
    c = d.currency
    return {
        "amount": decimal_text(d.principal, c),
        "currency": c,
        "apr": str(d.apr),
        "term_months": d.term_months,
        "monthly_payment": decimal_text(d.monthly_payment, c),
        "finance_charge": decimal_text(d.finance_charge, c),
        "total_of_payments": decimal_text(d.total_of_payments, c),
        "late_fee": decimal_text(d.late_fee, c),
        "schedule": [_row(r, c) for r in d.rows],
    }


def _loan(loan, *, full: bool) -> dict:
    c = loan.currency
    data = {
        "id": loan.pk,
        "status": loan.status,
        "currency": c,
        "principal": decimal_text(loan.principal, c),
        "apr": str(loan.apr),
        "term_months": loan.term_months,
        "monthly_payment": decimal_text(loan.monthly_payment, c),
        "finance_charge": decimal_text(loan.finance_charge, c),
        "principal_outstanding": decimal_text(loan.principal_outstanding, c),
        "fees_outstanding": decimal_text(loan.fees_outstanding, c),
        "disbursed_at": loan.disbursed_at.isoformat(),
    }
    if full:
        data["schedule"] = [_row(r, c) for r in loan.instalments.order_by("number")]
        if loan.status == "active":
            q = payoff_quote(loan)
            data["payoff"] = {
                "total": decimal_text(q.total, c),
                "principal": decimal_text(q.principal, c),
                "interest": decimal_text(q.interest, c),
                "interest_days": q.interest_days,
                "fees": decimal_text(q.fees, c),
            }
    return data


OBJ = inline_serializer(name="LoanObject", fields={"id": serializers.IntegerField()})
LOAN_LIST = inline_serializer(
    name="LoanList",
    fields={
        "results": serializers.ListField(
            child=inline_serializer(
                name="LoanSummary",
                fields={
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "currency": serializers.CharField(),
                    "principal": serializers.CharField(),
                    "apr": serializers.CharField(),
                    "term_months": serializers.IntegerField(),
                    "monthly_payment": serializers.CharField(),
                    "finance_charge": serializers.CharField(),
                    "principal_outstanding": serializers.CharField(),
                    "fees_outstanding": serializers.CharField(),
                    "disbursed_at": serializers.DateTimeField(),
                },
            )
        )
    },
)


class QuoteIn(serializers.Serializer):
    amount = StrictCharField(max_length=32)
    currency = StrictCharField(max_length=3, required=False)
    term_months = serializers.IntegerField(min_value=1, max_value=60)


class RepayIn(serializers.Serializer):
    amount = StrictCharField(max_length=32, required=False, help_text="Omit to pay off.")


class OfferView(APIView):
    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("currency", str, required=False)],
        responses={200: inline_serializer(name="LoanOffer", fields={"eligible": serializers.BooleanField()})},
    )
    def get(self, request):
        currency = check_currency(request.query_params.get("currency") or "USD")
        offer = eligibility(request.user, currency=currency)
        return Response(
            {
                "currency": currency,
                "eligible": offer.eligible,
                "score": offer.score,
                "lines": [vars(line) for line in offer.lines],
                "reasons": offer.reasons,
                "limit": decimal_text(offer.limit, currency),
                "apr": str(offer.product.apr) if offer.product else None,
                "terms": offer.product.terms if offer.product else [],
            }
        )


class QuoteView(APIView):
    @extend_schema(tags=TAGS, request=QuoteIn, responses={200: OBJ, **error_responses(400, 422)})
    def post(self, request):
        data = QuoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        amount = _money(v["amount"], v.get("currency") or "USD")
        return Response(_disclosure(loan_quote(request.user, amount=amount, term_months=v["term_months"])))


class LoansView(APIView):
    @extend_schema(tags=TAGS, operation_id="loans_list", responses={200: LOAN_LIST})
    def get(self, request):
        return Response({"results": [_loan(loan, full=False) for loan in loans_of(request.user)]})

    @extend_schema(
        tags=TAGS,
        request=QuoteIn,
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        responses={201: OBJ, **error_responses(400, 409, 422)},
    )
    @idempotent(required=True)
    def post(self, request):
        data = QuoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        amount = _money(v["amount"], v.get("currency") or "USD")
        key = request_key(request._request)
        loan = loan_accept(request.user, amount=amount, term_months=v["term_months"], idempotency_key=key)
        return Response(_loan(loan, full=True), status=status.HTTP_201_CREATED)


def _get(request, pk):
    loan = loan_for_user(request.user, pk)
    if loan is None:
        raise NotFound("That loan does not exist.", code="loan_not_found")
    return loan


class LoanView(APIView):
    @extend_schema(tags=TAGS, responses={200: OBJ, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(_loan(_get(request, pk), full=True))


class RepayView(APIView):
    @extend_schema(
        tags=TAGS,
        request=RepayIn,
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        responses={200: OBJ, **error_responses(400, 404, 409, 422)},
    )
    @idempotent(required=True)
    def post(self, request, pk: int):
        loan = _get(request, pk)
        data = RepayIn(data=request.data)
        data.is_valid(raise_exception=True)
        text = data.validated_data.get("amount")
        amount = _money(text, loan.currency).amount if text else None
        payment = loan_repay(
            request.user, loan_id=loan.pk, amount=amount, idempotency_key=request_key(request._request)
        )
        loan.refresh_from_db()
        c = loan.currency
        return Response(
            {
                "payment": {
                    "kind": payment.kind,
                    "amount": decimal_text(payment.amount, c),
                    "principal": decimal_text(payment.principal, c),
                    "interest": decimal_text(payment.interest, c),
                    "fees": decimal_text(payment.fees, c),
                },
                "loan": _loan(loan, full=True),
            }
        )


urlpatterns = [
    path("loans/offer/", OfferView.as_view(), name="api-loan-offer"),
    path("loans/quote/", QuoteView.as_view(), name="api-loan-quote"),
    path("loans/", LoansView.as_view(), name="api-loans"),
    path("loans/<int:pk>/", LoanView.as_view(), name="api-loan"),
    path("loans/<int:pk>/repay/", RepayView.as_view(), name="api-loan-repay"),
]
