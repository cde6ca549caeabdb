"""HTML views: funding (stub)."""

urlpatterns = []
