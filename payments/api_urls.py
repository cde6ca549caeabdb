"""/api/v1/... routes of the wallet."""

from .api import funding, payments, requests

urlpatterns = [
    *payments.urlpatterns,
    *requests.urlpatterns,
    *funding.urlpatterns,
]
