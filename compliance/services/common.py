"""Shared by the compliance services: thresholds, notification titles, helpers and the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import models
from django.utils import formats, timezone

from core.errors import NotFound, NotPermitted, ValidationFailed
from notifications.models import register_kind

from ..models import AuditEntry

# --- Thresholds (US cents unless said otherwise) ---------------------------------------------
MIN_AGE_YEARS = 18
# A payment above this is held for review ("Large payment").
LARGE_AMOUNT_USD_MINOR = 3_000_00
# A payment to someone new is held ("Several payments to new people in a short time") when the
# sender already made this many other payments to new people within BURST_WINDOW.
BURST_WINDOW = timedelta(minutes=60)
BURST_PRIOR_NEW_RECIPIENTS = 3
# Releasing a held payment above this needs two different staff members (maker-checker).
SECOND_APPROVAL_OVER_USD_MINOR = 10_000_00
# Staff decide within this long; afterwards the review expires and the money goes back.
REVIEW_WINDOW = timedelta(hours=48)
# Identity documents.
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
DOCUMENT_FORMATS = {"JPEG", "PNG", "WEBP"}
DOCUMENT_MAX_PIXELS = 60_000_000
TEXT_MAX = 2000

register_kind("compliance.frozen", "Sending from your account is paused: {reason}")
register_kind("compliance.unfrozen", "Your account is no longer frozen: you can send money again")
register_kind("compliance.document_approved", "Your identity is verified: you can now send up to {limit} every 7 days")
register_kind("compliance.document_rejected", "We could not accept your identity document: {note}")


# --- USD equivalents --------------------------------------------------------------------------

_usd_converter: Callable[[int, str], int] | None = None


def usd_converter_register(converter: Callable[[int, str], int]) -> None:
    """Let the app that owns FX rates (payments) say how to turn an amount into US cents."""
    global _usd_converter
    _usd_converter = converter


def usd_equivalent(amount_minor: int, currency: str) -> int:
    """``amount_minor`` of ``currency`` in US cents, through the registered converter.

    USD needs no converter; any other currency raises NotImplementedError until
    one is registered with ``usd_converter_register`` (payments passes US cents
    to the limit functions itself, so it does not need this).
    """
    if currency == "USD":
        return amount_minor
    if _usd_converter is None:
        raise NotImplementedError("No USD converter is registered (usd_converter_register).")
    return _usd_converter(amount_minor, currency)


# --- Who is party to a review's subject ----------------------------------------------------------

_review_parties: dict[str, Callable[[str], Iterable[int]]] = {}


def review_parties_register(prefix: str, resolver: Callable[[str], Iterable[int]]) -> None:
    """Let the app owning subjects "<prefix>:<id>" (payments: "payment") say who is party to one.

    ``resolver(subject)`` returns the user ids involved (a payment's sender and recipient).
    Staff who are party to a subject may not decide its review: maker-checker means
    nothing if someone can approve money going to themselves.
    """
    _review_parties[prefix] = resolver


def review_parties(subject: str) -> set[int]:
    """User ids party to ``subject`` per the registered resolver (empty if none is registered)."""
    resolver = _review_parties.get(str(subject).partition(":")[0])
    return set(resolver(subject)) if resolver else set()


# --- Helpers ----------------------------------------------------------------------------------


def _require_staff(user, doing: str) -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        raise NotPermitted(f"Only staff can {doing}.", code="staff_only")


def _text(value, *, name: str, label: str, required: bool = True, max_length: int = TEXT_MAX) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{label} is required.", fields={name: ["Required."]})
    if len(text) > max_length:
        raise ValidationFailed(
            f"{label} is {len(text)} characters; the limit is {max_length}.",
            fields={name: [f"At most {max_length} characters."]},
        )
    return text


def _when(moment: datetime) -> str:
    """A moment in the active (the user's) time zone, e.g. "March 5, 2026, 2:30 p.m. UTC"."""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


def _instance(model, value, *, what: str):
    """A model instance from an instance or a primary key; NotFound otherwise."""
    pk = value.pk if isinstance(value, model) else value
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise NotFound(f"That {what} does not exist.")
    return pk


def audit_record(*, actor, action: str, target=None, reason: str = "", data: dict | None = None) -> AuditEntry:
    """Append one entry to the audit trail (never edited, never deleted).

    ``target`` may be a model instance (recorded as "app_label.model", its pk and
    its str), a string such as "payment:42", or None. ``data`` is any
    JSON-serialisable dict (dates and Decimals are fine). ``actor`` is the staff
    member, or None for the system. Runs in the caller's transaction, if any, so
    the entry commits together with the action it records.
    """
    action = str(action or "").strip()
    if not action or len(action) > 64:
        raise ValidationFailed("An audit entry needs an action name of at most 64 characters.")
    target_type = target_id = target_repr = ""
    if isinstance(target, models.Model):
        target_type = f"{target._meta.app_label}.{target._meta.model_name}"
        target_id = str(target.pk)
        target_repr = str(target)
    elif target is not None:
        target_repr = str(target)
        target_type, _, target_id = target_repr.partition(":")
    if data is not None and not isinstance(data, dict):
        raise ValidationFailed("Audit data must be a dict.")
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target_type[:64],
        target_id=target_id[:64],
        target_repr=target_repr[:200],
        reason=str(reason or "").strip(),
        data=data or {},
    )
