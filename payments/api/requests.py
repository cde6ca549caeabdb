"""API: requests (stub)."""

urlpatterns = []
