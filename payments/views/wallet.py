"""HTML views: wallet (stub)."""

urlpatterns = []
