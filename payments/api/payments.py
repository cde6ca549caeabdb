"""API: payments (stub)."""

urlpatterns = []
