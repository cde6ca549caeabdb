"""/api/v1/savings/... routes (mounted by everything/urls.py: ``path("", include("savings.api_urls"))`` in api_v1)."""

from django.urls import path, register_converter

from . import api


class CurrencyCodeConverter:
    """Three ASCII letters: anything else (a NUL byte, which PostgreSQL cannot store in the idempotency
    record's path, a long string) is a 404 before any view or middleware stores it."""

    regex = "[A-Za-z]{3}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CurrencyCodeConverter, "currency3")

urlpatterns = [
    path("savings/accounts/", api.SavingsAccountListView.as_view(), name="api-savings-accounts"),
    path("savings/accounts/<currency3:currency>/", api.SavingsAccountDetailView.as_view(), name="api-savings-account"),
    path("savings/accounts/<currency3:currency>/move/", api.SavingsMoveView.as_view(), name="api-savings-move"),
    path("savings/accounts/<currency3:currency>/accruals/", api.AccrualListView.as_view(), name="api-savings-accruals"),
    path("savings/accounts/<currency3:currency>/payouts/", api.PayoutListView.as_view(), name="api-savings-payouts"),
    path("savings/rates/", api.RateListView.as_view(), name="api-savings-rates"),
    path("savings/goals/", api.GoalListView.as_view(), name="api-savings-goals"),
    path("savings/goals/<int:pk>/", api.GoalDetailView.as_view(), name="api-savings-goal"),
    path("savings/projection/", api.ProjectionView.as_view(), name="api-savings-projection"),
]
