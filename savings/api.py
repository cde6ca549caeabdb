"""API of savings under /api/v1/savings/: accounts, move money, rates, goals, accruals and payouts.

Thin: parse strictly, call ``savings.services`` / ``savings.selectors``, serialise. Money is a decimal
string in major units; accrued interest keeps its sub-minor precision as a decimal string in minor
units (``"12.345678901234"`` = 12.345… cents). Moves need an ``Idempotency-Key`` header.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    StrictBooleanField,
    decimal_text,
    error_responses,
)
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import CURRENCIES, Money, check_currency
from core.parsers import JSON_ONLY

from . import selectors, services
from .models import InterestAccrual, InterestPayout, SavingsGoal

TAG = "savings"


def _validated(serializer_class, request, *, partial: bool = False) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _money(text: str, currency: str, field: str = "amount") -> Money:
    try:
        return Money.parse(text, currency)
    except DomainError as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={field: [exc.message]}) from None


class _StrictText(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _CurrencyField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str) or data.strip().upper() not in CURRENCIES:
            raise serializers.ValidationError(f"One of {', '.join(CURRENCIES)}.")
        return data.strip().upper()


# --- Serializers ---------------------------------------------------------------------------------


class SavingsAccountSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="Decimal string, major units.")
    apy = serializers.CharField(allow_null=True, help_text='The APY in force today as a fraction ("0.045000" = 4.5%).')
    interest_this_month = serializers.CharField(help_text="Accrued this month, minor units with 12 decimals.")
    interest_this_year = serializers.CharField(help_text="Accrued this calendar year, minor units with 12 decimals.")
    paid_this_year = serializers.CharField(help_text="Interest paid this year, decimal string, major units.")
    accrued_through = serializers.DateField(allow_null=True)
    roundups_enabled = serializers.BooleanField()
    opened = serializers.DateTimeField()

    def to_representation(self, account):
        summary = selectors.savings_summary(account, chart_months=1)
        return {
            "currency": account.currency,
            "balance": decimal_text(summary.balance, account.currency),
            "apy": None if summary.apy is None else str(summary.apy),
            "interest_this_month": str(summary.accrued_this_month),
            "interest_this_year": str(summary.earned_this_year),
            "paid_this_year": decimal_text(summary.paid_this_year, account.currency),
            "accrued_through": account.accrued_through.isoformat() if account.accrued_through else None,
            "roundups_enabled": account.roundups_enabled,
            "opened": serializers.DateTimeField().to_representation(account.opened_at),
        }


class OpenSerializer(serializers.Serializer):
    currency = _CurrencyField()


class AccountUpdateSerializer(serializers.Serializer):
    roundups_enabled = StrictBooleanField()


class MoveSerializer(serializers.Serializer):
    # A plain string (not an enum in the schema: another "direction" enum would collide in the schema).
    direction = _StrictText(max_length=3, help_text='"in": wallet → savings; "out": savings → wallet.')

    def validate_direction(self, value):
        if value not in services.DIRECTIONS:
            raise serializers.ValidationError('"in" or "out".')
        return value

    amount = _StrictText(max_length=40, help_text='Decimal string in major units, like "200.00".')


class RateSerializer(serializers.Serializer):
    currency = serializers.CharField()
    apy = serializers.CharField()
    effective_from = serializers.DateField()

    def to_representation(self, rate):
        return {
            "currency": rate.product.currency,
            "apy": str(rate.apy),
            "effective_from": rate.effective_from.isoformat(),
        }


class GoalSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    currency = _CurrencyField(help_text="The savings account the goal is on.")
    name = _StrictText(max_length=60)
    target = _StrictText(max_length=40, help_text="Decimal string, major units.")
    target_date = serializers.DateField(required=False, allow_null=True)
    saved = serializers.CharField(read_only=True, help_text="min(balance, target), major units.")
    percent = serializers.IntegerField(read_only=True)
    achieved = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, goal: SavingsGoal):
        currency = goal.account.currency
        balance = max(selectors.account_balance(goal.account), 0)
        saved = min(balance, goal.target)
        return {
            "id": goal.pk,
            "currency": currency,
            "name": goal.name,
            "target": decimal_text(goal.target, currency),
            "target_date": goal.target_date.isoformat() if goal.target_date else None,
            "saved": decimal_text(saved, currency),
            "percent": saved * 100 // goal.target,
            "achieved": serializers.DateTimeField().to_representation(goal.achieved_at) if goal.achieved_at else None,
        }


class AccrualSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    day = serializers.DateField()
    balance = serializers.CharField(help_text="End-of-day balance, major units.")
    daily_rate = serializers.CharField()
    amount = serializers.CharField(help_text="Interest for the day, minor units with 12 decimals.")

    def to_representation(self, a: InterestAccrual):
        currency = self.context["currency"]
        return {
            "id": a.pk,
            "day": a.day.isoformat(),
            "balance": decimal_text(a.balance, currency),
            "daily_rate": str(a.daily_rate),
            "amount": str(a.amount),
        }


class PayoutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    month = serializers.DateField(help_text="First day of the month the interest was earned in.")
    accrued = serializers.CharField(help_text="The month's accruals + carry in, minor units, 12 decimals.")
    amount = serializers.CharField(help_text="Paid, major units (accrued floored to minor units).")
    carried = serializers.CharField(help_text="Carried to next month, minor units, 12 decimals.")
    paid = serializers.DateTimeField()

    def to_representation(self, p: InterestPayout):
        currency = self.context["currency"]
        return {
            "id": p.pk,
            "month": p.month.isoformat(),
            "accrued": str(p.accrued),
            "amount": decimal_text(p.amount, currency),
            "carried": str(p.carried),
            "paid": serializers.DateTimeField().to_representation(p.created_at),
        }


class ProjectionSerializer(serializers.Serializer):
    currency = serializers.CharField()
    apy = serializers.CharField()
    months = serializers.IntegerField()
    balance = serializers.CharField()
    deposits = serializers.CharField()
    interest = serializers.CharField()


# --- Views ---------------------------------------------------------------------------------------


class SavingsAccountListView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="Your savings accounts", responses={200: SavingsAccountSerializer(many=True)}, tags=[TAG])
    def get(self, request):
        return Response([SavingsAccountSerializer(a).data for a in selectors.savings_accounts_for(request.user)])

    @extend_schema(
        summary="Open a savings account",
        description="Opens your savings account in `currency` (201), or returns the one you have (200). "
        "422 `savings_product_unavailable` when there is no savings product in that currency.",
        request=OpenSerializer,
        responses={200: SavingsAccountSerializer, 201: SavingsAccountSerializer, **error_responses(400, 422)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(OpenSerializer, request)
        account, created = services.savings_account_open(request.user, currency=data["currency"])
        return Response(SavingsAccountSerializer(account).data, status=201 if created else 200)


class SavingsAccountDetailView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="One of your savings accounts",
        responses={200: SavingsAccountSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def get(self, request, currency: str):
        return Response(SavingsAccountSerializer(services.savings_account_get(request.user, currency=currency)).data)

    @extend_schema(
        summary="Turn round-ups on or off",
        request=AccountUpdateSerializer,
        responses={200: SavingsAccountSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def patch(self, request, currency: str):
        data = _validated(AccountUpdateSerializer, request)
        account = services.savings_roundups_set(request.user, currency=currency, enabled=data["roundups_enabled"])
        return Response(SavingsAccountSerializer(account).data)


class SavingsMoveView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Move money between your wallet and savings",
        description="One instant ledger transfer between your own accounts. Needs an `Idempotency-Key` "
        "header: the same key and body move once; another body answers 422 `idempotency_key_reused`. "
        "422 `insufficient_funds` when the source lacks the money (nothing moves); 404 without a savings account.",
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=MoveSerializer,
        responses={200: SavingsAccountSerializer, **error_responses(400, 404, 409, 422)},
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request, currency: str):
        data = _validated(MoveSerializer, request)
        currency = check_currency(currency)
        money = _money(data["amount"], currency)
        account = services.savings_move(
            request.user,
            currency=currency,
            amount=money.amount,
            direction=data["direction"],
            idempotency_key=request_key(request._request),
        )
        return Response(SavingsAccountSerializer(account).data)


class _AccountScopedList(generics.ListAPIView):
    pagination_class = DefaultCursorPagination
    model = None
    ordering_field = "-id"

    def _account(self):
        return services.savings_account_get(self.request.user, currency=self.kwargs["currency"])

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "currency": check_currency(self.kwargs.get("currency", "USD"))}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(account=self._account())


class AccrualListView(_AccountScopedList):
    serializer_class = AccrualSerializer
    model = InterestAccrual

    @extend_schema(summary="Daily interest accruals, newest first", tags=[TAG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PayoutListView(_AccountScopedList):
    serializer_class = PayoutSerializer
    model = InterestPayout

    @extend_schema(summary="Monthly interest payouts, newest first", tags=[TAG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RateListView(APIView):
    @extend_schema(
        summary="Savings rate history",
        description="Every APY of the product (future ones included), newest first. Rates are never edited.",
        parameters=[OpenApiParameter("currency", str, description="ISO 4217 code; default USD.")],
        responses={200: RateSerializer(many=True), **error_responses(400)},
        tags=[TAG],
    )
    def get(self, request):
        currency = check_currency((request.query_params.get("currency") or "USD").strip()[:8])
        services.product_get(currency)  # seeds on first use
        return Response([RateSerializer(r).data for r in selectors.rates_for(currency)])


class GoalListView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="Your savings goals", responses={200: GoalSerializer(many=True)}, tags=[TAG])
    def get(self, request):
        goals = SavingsGoal.objects.filter(user=request.user).select_related("account__ledger_account")
        return Response([GoalSerializer(g).data for g in goals.order_by("target_date", "id")])

    @extend_schema(
        summary="Add a savings goal",
        request=GoalSerializer,
        responses={201: GoalSerializer, **error_responses(400, 404, 422)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(GoalSerializer, request)
        goal = services.savings_goal_create(
            request.user,
            currency=data["currency"],
            name=data["name"],
            target=_money(data["target"], data["currency"], "target").amount,
            target_date=data.get("target_date"),
        )
        return Response(GoalSerializer(goal).data, status=201)


class GoalDetailView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="One goal", responses={200: GoalSerializer, **error_responses(404)}, tags=[TAG])
    def get(self, request, pk: int):
        return Response(GoalSerializer(services.savings_goal_get(request.user, pk)).data)

    @extend_schema(
        summary="Change a goal",
        description="Name, target or target_date (null clears it). The currency cannot change.",
        request=GoalSerializer(partial=True),
        responses={200: GoalSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def patch(self, request, pk: int):
        goal = services.savings_goal_get(request.user, pk)
        data = _validated(GoalSerializer, request, partial=True)
        kwargs = {}
        if "name" in data:
            kwargs["name"] = data["name"]
        if "target" in data:
            kwargs["target"] = _money(data["target"], goal.account.currency, "target").amount
        if "target_date" in data:
            kwargs["target_date"] = data["target_date"]
        return Response(GoalSerializer(services.savings_goal_update(request.user, pk, **kwargs)).data)

    @extend_schema(summary="Remove a goal", responses={204: None, **error_responses(404)}, tags=[TAG])
    def delete(self, request, pk: int):
        services.savings_goal_delete(request.user, pk)
        return Response(status=204)


class ProjectionView(APIView):
    @extend_schema(
        summary="Project a savings balance",
        description="Start with `amount`, add `monthly` at the end of each month for `months` months at today's "
        "APY, compounding daily; floored to minor units.",
        parameters=[
            OpenApiParameter("currency", str, description="Default USD."),
            OpenApiParameter("amount", str, description='Decimal string, e.g. "1000.00"; default 0.'),
            OpenApiParameter("monthly", str, description="Decimal string; default 0."),
            OpenApiParameter("months", int, required=True, description="1 to 600."),
        ],
        responses={200: ProjectionSerializer, **error_responses(400, 422)},
        tags=[TAG],
    )
    def get(self, request):
        params = request.query_params
        currency = check_currency((params.get("currency") or "USD").strip()[:8])
        months_text = (params.get("months") or "").strip()
        if not (months_text.isascii() and months_text.isdigit()) or len(months_text) > 4:
            raise ValidationFailed("months is a whole number from 1 to 600.", fields={"months": ["1 to 600."]})

        def minor(name):
            text = (params.get(name) or "").strip()
            return _money(text, currency, name).amount if text and text.strip("0.") else 0

        services.product_get(currency)
        apy = selectors.current_apy(currency)
        if apy is None:
            raise services.SavingsProductUnavailable()
        result = services.projection_compute(
            amount=minor("amount"),
            monthly_deposit=minor("monthly"),
            months=int(months_text),
            apy=apy,
            currency=currency,
        )
        return Response(
            {
                "currency": currency,
                "apy": str(apy),
                "months": result.months,
                "balance": decimal_text(result.balance, currency),
                "deposits": decimal_text(result.deposits, currency),
                "interest": decimal_text(result.interest, currency),
            }
        )
