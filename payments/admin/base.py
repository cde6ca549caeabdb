"""Shared pieces of the wallet's admin (now in core.admin, re-exported for the wallet's modules)."""

from core.admin import SafeLookupsMixin

__all__ = ["SafeLookupsMixin"]
