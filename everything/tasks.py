"""Tasks that need several apps at once, so they live at the top (DESIGN §2)."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import mail_admins
from django.utils import timezone

from core.tasks import LEDGER_CHECK_KEY
from ledger.selectors import ledger_verify
from notifications.models import Notification
from notifications.services import notify

logger = logging.getLogger(__name__)

LEDGER_CHECK_FAILED = "ops.ledger_check_failed"


@shared_task
def ledger_check() -> bool:
    """Verify the ledger's invariants (Celery beat, nightly at 03:15 UTC).

    On success, record the time in the cache (/healthz shows it). On failure, log an
    error naming each problem, notify every active staff user and mail ADMINS. Safe to
    run twice: it only reads the ledger, and alerts once per UTC day (a redelivered or repeated
    run the same day finds the day's notification and neither notifies nor mails again).
    """
    report = ledger_verify()
    if report.ok:
        logger.info(
            "ledger_check: OK, %s accounts, %s transfers, %s currencies",
            report.accounts,
            report.transfers,
            len(report.currencies),
        )
    else:
        for problem in report.problems:
            logger.error("ledger_check: %s", problem)
        logger.error("ledger_check: FAILED, %s problem(s)", len(report.problems))
        staff = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("pk")
        # Once per UTC day: who was already told today is not told again (nor are the admins mailed).
        midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        told = set(
            Notification.objects.filter(kind=LEDGER_CHECK_FAILED, created_at__gte=midnight).values_list(
                "recipient_id", flat=True
            )
        )
        # The title travels in the data: the web process need not import this module to show it.
        title = f"The nightly ledger check failed: {len(report.problems)} problem(s). See the logs."
        for user in staff:
            if user.pk in told:
                continue
            notify(
                user,
                kind=LEDGER_CHECK_FAILED,
                data={"title": title, "problems": len(report.problems), "url": "/admin/"},
            )
        if not told:
            mail_admins(
                "ledger_check failed",
                f"{len(report.problems)} problem(s):\n" + "\n".join(report.problems),
                fail_silently=True,
            )
    try:
        cache.set(LEDGER_CHECK_KEY, {"ok": report.ok, "at": time.time()}, timeout=None)
    except Exception:  # the check's result is in the logs and the notifications already
        logger.exception("ledger_check: could not record the result in the cache")
    return report.ok
