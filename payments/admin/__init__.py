"""Admin of the wallet: one module per area (imported here so Django registers them)."""

from . import checks, escrow, funding, payments, requests  # noqa: F401
