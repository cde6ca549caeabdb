"""Admin pieces every app's admin shares (core imports none of our apps)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import DataError


class SafeLookupsMixin:
    """A changelist filter the database cannot run (``?status=%00`` on PostgreSQL, a year past 9999)
    is "wacky lookup parameters" — the admin's own redirect to ``?e=1`` — never a 500."""

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (DataError, OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class ReadOnlyMixin:
    """Staff can look, never add, edit or delete (for model admins and inlines alike):
    changes happen through audited actions that call services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(SafeLookupsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """A read-only model admin whose filters never 500."""
