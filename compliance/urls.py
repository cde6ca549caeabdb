"""/compliance/... — identity verification, account status and the staff-only document view."""

from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("status/", views.status, name="status"),
    path("documents/<int:pk>/", views.document, name="document"),
]
