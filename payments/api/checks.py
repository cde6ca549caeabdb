"""API of checks: list and write, one check, void, deposit.

Thin: parse strictly, call ``payments.services.checks``, serialise. Writing a check
moves money, so it needs an ``Idempotency-Key`` header (the key also goes to
``check_write``, so a retry after a late failure writes nothing twice). The deposit
code is shown only to the check's writer (they hand it over with the check).
"""

from __future__ import annotations

from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    ERROR_RESPONSE,
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    decimal_text,
)
from core.errors import DomainError, ValidationFailed
from core.idempotency import IdempotencyKeyMissing, idempotent, request_key
from core.money import CURRENCY_CHOICES

from ..checks_words import amount_in_words
from ..models import Check, CheckStatus
from ..services.checks import (
    check_deposit,
    check_deposit_code,
    check_deposit_path,
    check_for_user,
    check_for_writer,
    check_void,
    check_write,
    checks_for_user,
    deposit_attempt_allowed_check,
    deposit_code_display,
    deposit_failure_record,
)
from .parsers import JSON_ONLY, PARSERS
from .payments import _amount, _body, _currency, _money, _raise_if, _text

TAG = "checks"


def _no_store(response: Response) -> Response:
    """An answer carrying a deposit code: never kept by a cache."""
    response["Cache-Control"] = "no-store, private"
    return response


class CheckSerializer(serializers.Serializer):
    """A check as its writer or its depositor sees it. Amounts are decimal strings in major units."""

    id = serializers.IntegerField()
    number = serializers.CharField(help_text="10 digits, printed on the check.")
    status = serializers.ChoiceField(choices=CheckStatus.values)
    direction = serializers.ChoiceField(
        choices=["written", "deposited"], help_text="written: you wrote it; deposited: you deposited it."
    )
    payee = serializers.CharField(help_text="The name on the check.")
    payee_handle = serializers.CharField(allow_null=True, help_text='"@handle" when only that person may deposit it.')
    amount = serializers.CharField()
    currency = serializers.CharField()
    amount_in_words = serializers.CharField(help_text='As printed: "One hundred twenty-three and 45/100".')
    memo = serializers.CharField()
    writer = serializers.CharField(help_text='"@handle" of the writer.')
    deposited_by = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    stale_at = serializers.DateTimeField(help_text="When an outstanding check goes stale and returns to the writer.")
    settled = serializers.DateTimeField(allow_null=True, help_text="When it was deposited, voided or went stale.")
    url = serializers.CharField(allow_null=True, help_text="The printable check (writer only).")

    def to_representation(self, c: Check):
        user = self.context["request"].user
        when = serializers.DateTimeField().to_representation
        mine = c.writer_id == user.pk
        return {
            "id": c.pk,
            "number": c.number,
            "status": c.status,
            "direction": "written" if mine else "deposited",
            "payee": c.payee_name,
            "payee_handle": f"@{c.payee.handle}" if c.payee_id else None,
            "amount": decimal_text(c.amount, c.currency),
            "currency": c.currency,
            "amount_in_words": amount_in_words(c.amount, c.currency),
            "memo": c.memo,
            "writer": f"@{c.writer.handle}",
            "deposited_by": f"@{c.deposited_by.handle}" if c.deposited_by_id else None,
            "created": when(c.created_at),
            "stale_at": when(c.stale_at),
            "settled": when(c.settled_at) if c.settled_at else None,
            "url": f"/wallet/checks/{c.pk}/" if mine else None,
        }


class CheckWriterSerializer(CheckSerializer):
    """For the writer: also the deposit code and the deposit link the QR code carries."""

    deposit_code = serializers.CharField(help_text='Give it to the payee with the number ("ABCD-EFGH-JKMN").')
    deposit_url = serializers.CharField(help_text="The deposit page prefilled with number and code.")
    pdf_url = serializers.CharField()

    def to_representation(self, c: Check):
        data = super().to_representation(c)
        code = check_deposit_code(c)
        data["deposit_code"] = deposit_code_display(code)
        data["deposit_url"] = self.context["request"].build_absolute_uri(check_deposit_path(c, code))
        data["pdf_url"] = f"/wallet/checks/{c.pk}/check.pdf"
        return data


class WriteRequestSerializer(serializers.Serializer):
    """For the schema only: the body is checked strictly by hand."""

    payee = serializers.CharField(help_text='A name, or "@handle" (then only that person may deposit it).')
    amount = serializers.CharField(help_text='A decimal string in major units, like "123.45".')
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False, help_text="Default: home currency.")
    memo = serializers.CharField(required=False, allow_blank=True, max_length=140)


class DepositRequestSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="The 10-digit check number.")
    code = serializers.CharField(help_text="The 12-character deposit code (dashes and case do not matter).")


_REFUSALS = {
    400: OpenApiResponse(ERROR_RESPONSE),
    403: OpenApiResponse(ERROR_RESPONSE),
    404: OpenApiResponse(ERROR_RESPONSE),
    409: OpenApiResponse(ERROR_RESPONSE),
    422: OpenApiResponse(ERROR_RESPONSE),
}


class CheckListView(generics.ListAPIView):
    serializer_class = CheckSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="List your checks",
        description="Checks you wrote or deposited, newest first, cursor-paginated.",
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Check.objects.none()
        return checks_for_user(self.request.user)

    @extend_schema(
        summary="Write a check",
        description=(
            "The amount leaves your wallet for the checks-outstanding account at once. Needs an "
            "`Idempotency-Key` header: the same key and body return the first check and move nothing; "
            "another body answers 422 `idempotency_key_reused`. The answer carries the `deposit_code` to "
            "give the payee. Refusals: 400 (bad input, unknown @handle), 403 (frozen, unverified, region, "
            "blocked), 422 (insufficient funds, 7-day limit)."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=WriteRequestSerializer,
        responses={201: CheckWriterSerializer, **_REFUSALS},
        tags=[TAG],
    )
    # Not ``@idempotent``: it would keep this answer, deposit code included, in plain text in the
    # idempotency table for a week. ``check_write`` is idempotent by the same key (unique per
    # writer; a concurrent duplicate replays the winner), and the answer is rebuilt each time.
    @method_decorator(sensitive_variables("response"))
    def post(self, request):
        key = request_key(request._request)
        if key is None:
            raise IdempotencyKeyMissing()
        data = _body(request)
        errors: dict = {}
        payee = _text(data, "payee", errors, required=True, hint='A name, or "@handle".')
        currency = _currency(data, "currency", errors, default=request.user.home_currency)
        amount = _amount(data, errors)
        memo = _text(data, "memo", errors, required=False, hint="Must be text.") or ""
        _raise_if(errors)
        check = check_write(
            request.user,
            payee=payee,
            amount=_money(amount, currency),
            memo=memo,
            idempotency_key=key,
        )
        response = Response(CheckWriterSerializer(check, context={"request": request}).data, status=201)
        return _no_store(response)


class CheckDetailView(APIView):
    @extend_schema(
        summary="One check",
        description="A check you wrote (with its deposit code) or deposited; 404 for anyone else's.",
        responses={200: CheckWriterSerializer, 404: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def get(self, request, pk: int):
        check = check_for_user(request.user, pk)
        serializer = CheckWriterSerializer if check.writer_id == request.user.pk else CheckSerializer
        return _no_store(Response(serializer(check, context={"request": request}).data))


class CheckVoidView(APIView):
    parser_classes = PARSERS  # the body is not read; a malformed one is still a 400

    @extend_schema(
        summary="Void a check you wrote",
        description=(
            "While outstanding: the money comes back to your wallet. 409 `check_already_deposited` or "
            "`check_not_outstanding` otherwise; 404 for a check you did not write."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={
            200: CheckWriterSerializer,
            404: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent
    def post(self, request, pk: int):
        check = check_void(request.user, check=check_for_writer(request.user, pk))
        return Response(CheckWriterSerializer(check, context={"request": request}).data)


class CheckDepositView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Deposit a check",
        description=(
            "Body `{number, code}`. The amount moves to your wallet in the check's currency; the writer is "
            "notified. Exactly once: of two concurrent deposits one wins, the other gets 409 "
            "`check_already_deposited`. A wrong number or code answers 404 `check_no_match` (never which); "
            "403 `check_payee_only` (written to someone else's @handle); 422 `check_own` (your own check: "
            "void it); 409 `check_stale` / `check_not_outstanding`."
        ),
        request=DepositRequestSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={200: CheckSerializer, **_REFUSALS},
        tags=[TAG],
    )
    @idempotent
    @method_decorator(sensitive_variables("data", "code", "stored"))  # also in the services below
    def post(self, request):
        data = _body(request)
        errors: dict = {}
        number = _text(data, "number", errors, required=True, hint="The check number, as a string.")
        code = _text(data, "code", errors, required=True, hint="The deposit code, as a string.")
        _raise_if(errors)
        if "\x00" in number or "\x00" in code:
            raise ValidationFailed("The number or code contains a character that is not allowed.")
        deposit_attempt_allowed_check(request.user)
        try:
            check = check_deposit(request.user, number=number, code=code)
        except DomainError as error:
            deposit_failure_record(request.user, error)
            raise
        return Response(CheckSerializer(check, context={"request": request}).data)


urlpatterns = [
    path("checks/", CheckListView.as_view(), name="api-checks"),
    path("checks/deposit/", CheckDepositView.as_view(), name="api-check-deposit"),
    path("checks/<int:pk>/", CheckDetailView.as_view(), name="api-check-detail"),
    path("checks/<int:pk>/void/", CheckVoidView.as_view(), name="api-check-void"),
]
