"""HTML views: statements (stub)."""

urlpatterns = []
