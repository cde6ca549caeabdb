"""HTML views: requests (stub)."""

urlpatterns = []
