"""/api/v1/... routes of messaging (``messaging.api``): mounted by everything/urls.py's ``api_v1``."""

from .api import urlpatterns

__all__ = ["urlpatterns"]
