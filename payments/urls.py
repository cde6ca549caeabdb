"""/wallet/... — every HTML page of the wallet, under the ``payments`` namespace."""

from .views import checks, funding, requests, statements, wallet

app_name = "payments"

urlpatterns = [
    *wallet.urlpatterns,
    *requests.urlpatterns,
    *funding.urlpatterns,
    *statements.urlpatterns,
    *checks.urlpatterns,
]
