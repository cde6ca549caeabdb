"""Admin: requests (stub)."""
