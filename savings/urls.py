"""/savings/... pages (mounted by everything/urls.py as ``path("savings/", include("savings.urls"))``)."""

from django.urls import path

from . import views

app_name = "savings"

urlpatterns = [
    path("", views.savings_index, name="index"),
    path("open/", views.savings_open, name="open"),
    path("move/", views.savings_move, name="move"),
    path("move/confirm/", views.savings_move_confirm, name="move_confirm"),
    path("move/submit/", views.savings_move_submit, name="move_submit"),
    path("roundups/", views.savings_roundups, name="roundups"),
    path("goals/", views.savings_goal_add, name="goal_add"),
    path("goals/<int:pk>/delete/", views.savings_goal_remove, name="goal_delete"),
    path("interest/<int:year>/", views.savings_interest_year, name="interest_year"),
]
