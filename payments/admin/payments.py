"""Admin: payments (stub)."""
