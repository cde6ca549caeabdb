"""Admin of the wallet: one module per area (imported here so Django registers them)."""

from . import escrow, funding, payments, requests  # noqa: F401
