"""/cards/... pages (mounted by everything/urls.py as ``path("cards/", include("cards.urls"))``)."""

from django.urls import path

from . import views

app_name = "cards"

urlpatterns = [
    path("", views.cards_home, name="home"),
    path("request/", views.card_request, name="request"),
    path("<int:pk>/freeze/", views.card_freeze, name="freeze"),
    path("<int:pk>/unfreeze/", views.card_unfreeze, name="unfreeze"),
    path("<int:pk>/limits/", views.card_limits, name="limits"),
    path("<int:pk>/replace/", views.card_replace, name="replace"),
    path("<int:pk>/reveal/", views.card_reveal, name="reveal"),
    path("demo-shop/", views.demo_shop, name="demo_shop"),
    path("demo-shop/orders/<int:pk>/", views.demo_order, name="demo_order"),
    path(
        "demo-shop/orders/<int:pk>/<str:action>/",
        views.demo_order_action,
        name="demo_order_action",
    ),
]
