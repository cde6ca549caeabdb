"""Admin: funding (stub)."""
