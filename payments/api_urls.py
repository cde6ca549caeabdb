"""/api/v1/... routes of the wallet."""

from .api import checks, funding, payments, requests, statements

urlpatterns = [
    *payments.urlpatterns,
    *requests.urlpatterns,
    *funding.urlpatterns,
    *statements.urlpatterns,
    *checks.urlpatterns,
]
