"""Shared by the compliance services: thresholds, notification titles, helpers and the audit trail.

The audit trail (``AuditEntry``, append-only: model guards plus, on PostgreSQL, a trigger
that rejects UPDATE and DELETE) records staff actions, card reveals, KYC decisions,
freezes and lifts and reversals. Two sources write to it, with one rule between them:

- A *named* entry (``freeze.create``, ``payment.reverse``, ``card.reveal``...) written by
  ``audit_record`` in the service or admin code that performs the action, with its reason.
- A *generic* entry (``admin.add`` / ``admin.change`` / ``admin.delete``) mirroring every
  Django admin ``LogEntry`` (the stock add/change/delete pages, the user admin's password
  page, and the bulk "Delete selected" action, see ``compliance.admin.audit``) through
  ``audit_record_admin_log``, so a staff action nobody thought to name is still recorded.

Rule against double entries: an admin ``LogEntry`` is NOT mirrored when a named entry for
the same actor and the same target was recorded earlier in the same database transaction
(the admin's add/change/delete pages run in one transaction, so the named entry of a
``save_model`` that calls a service and the page's LogEntry meet there); the named entry
is the more precise one. A change that changed nothing ("No fields changed.") is not an
action and is not mirrored either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import models, transaction
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
    entry = AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target_type[:64],
        target_id=target_id[:64],
        target_repr=target_repr[:200],
        reason=str(reason or "").strip(),
        data=data or {},
    )
    if entry.actor_id and entry.target_type and entry.target_id:
        _mark("named", entry.actor_id, entry.target_type, entry.target_id)
    return entry


# --- The admin's LogEntry, mirrored (see the module docstring for the rule) --------------------


class _NamedEntries:
    """A no-op on-commit hook that carries the (actor, target) key of an entry just recorded.

    Keeping the marks in the transaction's own on-commit list scopes them to the transaction
    exactly: Django empties the list on commit and on rollback, and a rolled-back savepoint
    takes its marks away with the entries it rolled back.
    """

    def __init__(self, key: tuple[str, int, str, str]):
        self.key = key

    def __call__(self) -> None:
        pass


def _mark(kind: str, actor_id: int, target_type: str, target_id: str) -> None:
    """Note in the current transaction that a ``kind`` ("named" or an admin action) entry was recorded."""
    if transaction.get_connection().in_atomic_block:  # outside a transaction nothing can follow in it
        transaction.on_commit(_NamedEntries((kind, actor_id, target_type, target_id)))


def _marks() -> set[tuple[str, int, str, str]]:
    """The keys marked so far in the current transaction (empty outside one)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return set()
    return {hook.key for _, hook, _ in connection.run_on_commit if isinstance(hook, _NamedEntries)}


ADMIN_LOG_ACTIONS = {1: "admin.add", 2: "admin.change", 3: "admin.delete"}  # LogEntry ADDITION, CHANGE, DELETION


def audit_record_admin_log(entry) -> AuditEntry | None:
    """Mirror one ``django.contrib.admin.models.LogEntry`` into the audit trail.

    Returns the new entry, or None when the rule in the module docstring skips it (a named
    entry for the same actor and target already in this transaction, or a change that
    changed nothing). Runs in the caller's transaction (the admin page's).
    """
    action = ADMIN_LOG_ACTIONS.get(entry.action_flag)
    if action is None:
        return None
    message = entry.get_change_message()
    if entry.action_flag == 2 and entry.change_message in ("", "[]"):
        return None  # "No fields changed."
    content_type = entry.content_type
    target_type = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    target_id = str(entry.object_id or "")
    if target_type and target_id and ("named", entry.user_id, target_type, target_id) in _marks():
        return None
    data = {"change": message, "log_entry": entry.pk} if message else {"log_entry": entry.pk}
    return _admin_entry(entry.user_id, action, target_type, target_id, entry.object_repr, data)


def audit_record_admin_deletions(*, actor, model, deleted: dict) -> list[AuditEntry]:
    """One ``admin.delete`` entry per object of ``model`` the bulk "Delete selected" action removed.

    ``deleted`` maps each removed primary key (as a string) to the object's str. Django's
    bulk LogEntry insert sends no signal, so the action itself calls this after deleting;
    an object whose deletion was already mirrored in this transaction is skipped.
    """
    target_type = f"{model._meta.app_label}.{model._meta.model_name}"
    entries = []
    marks = _marks()  # once: a bulk delete may remove thousands of objects
    for pk, text in deleted.items():
        if not marks & {("named", actor.pk, target_type, pk), ("admin.delete", actor.pk, target_type, pk)}:
            entries.append(_admin_entry(actor.pk, "admin.delete", target_type, pk, text, {"bulk": True}))
    return entries


def _admin_entry(actor_id, action, target_type, target_id, text, data) -> AuditEntry:
    entry = AuditEntry.objects.create(
        actor_id=actor_id,
        action=action,
        target_type=target_type[:64],
        target_id=target_id[:64],
        target_repr=(text or "")[:200],
        data=data,
    )
    if actor_id and target_type and target_id:
        _mark(action, actor_id, target_type, target_id)
    return entry
