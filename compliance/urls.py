"""/compliance/... — identity verification and account status pages (stub)."""

app_name = "compliance"

urlpatterns = []
