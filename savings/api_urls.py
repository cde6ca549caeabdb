"""/api/v1/savings/... routes (mounted by everything/urls.py: ``path("", include("savings.api_urls"))`` in api_v1)."""

from django.urls import path

from . import api

urlpatterns = [
    path("savings/accounts/", api.SavingsAccountListView.as_view(), name="api-savings-accounts"),
    path("savings/accounts/<str:currency>/", api.SavingsAccountDetailView.as_view(), name="api-savings-account"),
    path("savings/accounts/<str:currency>/move/", api.SavingsMoveView.as_view(), name="api-savings-move"),
    path("savings/accounts/<str:currency>/accruals/", api.AccrualListView.as_view(), name="api-savings-accruals"),
    path("savings/accounts/<str:currency>/payouts/", api.PayoutListView.as_view(), name="api-savings-payouts"),
    path("savings/rates/", api.RateListView.as_view(), name="api-savings-rates"),
    path("savings/goals/", api.GoalListView.as_view(), name="api-savings-goals"),
    path("savings/goals/<int:pk>/", api.GoalDetailView.as_view(), name="api-savings-goal"),
    path("savings/projection/", api.ProjectionView.as_view(), name="api-savings-projection"),
]
