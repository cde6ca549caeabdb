"""API: funding (stub)."""

urlpatterns = []
