"""/api/v1/... routes of compliance (the lead includes this module in everything/urls.py's api_v1)."""

from django.urls import path

from .api import ComplianceStatusView

urlpatterns = [
    path("compliance/status/", ComplianceStatusView.as_view(), name="api-compliance-status"),
]
