"""HTML views of the wallet, one module per area; each module exports ``urlpatterns``."""
