"""/api/v1/loans/... routes."""

from .api import urlpatterns

__all__ = ["urlpatterns"]
