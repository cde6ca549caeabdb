from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.settings_view, name="settings"),
    path("blocked/", views.blocked_list, name="blocked"),
    path("follow-requests/", views.follow_requests, name="follow_requests"),
    path("follow-requests/<str:handle>/approve", views.follow_request_approve, name="follow_request_approve"),
    path("follow-requests/<str:handle>/decline", views.follow_request_decline, name="follow_request_decline"),
]
