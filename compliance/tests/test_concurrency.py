"""Real concurrency on PostgreSQL: one user's parallel sends never exceed their limit together.

SQLite has no row locks (a writer locks the whole file), so these tests need
PostgreSQL; CI always runs them there (DATABASE_URL set by .ci/run).
"""

import time

import pytest
from django.db import transaction

from accounts.tests.factories import UserFactory
from compliance import services
from compliance.models import KycProfile, LimitUsage
from compliance.tests.factories import make_verified
from core.testing import run_threads, skip_unless_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def test_concurrent_reserves_of_one_user_never_exceed_the_limit():
    user = UserFactory(handle="racer", verified=True)
    make_verified(user, tier=1)  # 1,000.00 per 7 days

    def worker(index):
        outcome = {"ok": 0, "refused": 0}
        for round_ in range(3):
            try:
                with transaction.atomic():
                    services.limit_reserve(user, usd_minor=90_00, reference=f"race:{index}:{round_}")
                    time.sleep(0.01)  # the payment's own work, while holding the lock
                outcome["ok"] += 1
            except services.LimitExceeded:
                outcome["refused"] += 1
        return outcome

    results, errors = run_threads(8, worker)
    assert not errors, errors
    accepted = sum(r["ok"] for r in results)
    assert accepted == 11  # 11 × 90.00 = 990.00 fits, a 12th would not
    assert services.limit_status(user).used == 99_000 <= 1_000_00
    assert LimitUsage.objects.filter(user=user).count() == accepted


def test_concurrent_first_reserves_create_one_profile_and_no_errors():
    user = UserFactory(handle="nobody", verified=True)  # no KYC profile yet: tier 0

    def worker(index):
        try:
            with transaction.atomic():
                services.limit_reserve(user, usd_minor=1_00, reference=f"first:{index}")
        except services.VerificationRequired:
            return "refused"
        return "accepted"

    results, errors = run_threads(6, worker)
    assert not errors, errors
    assert results == ["refused"] * 6
    assert KycProfile.objects.filter(user=user).count() <= 1
