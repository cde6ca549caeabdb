"""Who may send, the rolling 7-day limits and the risk thresholds."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from compliance import services
from compliance.models import KycProfile, LimitUsage, ReviewReason
from compliance.tests.factories import make_verified
from core.errors import Conflict

pytestmark = pytest.mark.django_db


def reserve(user, cents, ref, new_recipient=False):
    with transaction.atomic():
        return services.limit_reserve(user, usd_minor=cents, reference=ref, new_recipient=new_recipient)


def backdate(reference, **delta):
    LimitUsage.objects.filter(reference=reference).update(created_at=timezone.now() - timedelta(**delta))


# --- sending_allowed_check ------------------------------------------------------------------


def test_tier_0_cannot_send_and_is_told_what_to_add(newcomer):
    with pytest.raises(services.VerificationRequired) as caught:
        services.sending_allowed_check(newcomer)
    message = caught.value.message
    assert "legal name" in message and "date of birth" in message and "address" in message
    assert "last 4 digits of your national ID" in message
    assert "/compliance/verify/" in message
    assert caught.value.status == 403


def test_tier_1_in_a_licensed_region_may_send(sender):
    assert services.sending_allowed_check(sender) is None


def test_unlicensed_region_is_named(db, settings):
    settings.PAYMENTS_LICENSED_REGIONS = ["US", "GB"]
    user = UserFactory(handle="brazil", verified=True, country="BR")
    make_verified(user, tier=2)
    with pytest.raises(services.RegionNotLicensed) as caught:
        services.sending_allowed_check(user)
    assert caught.value.message.startswith("Sending money is not available in Brazil yet.")
    assert caught.value.code == "region_not_licensed"


def test_blank_country_asks_to_set_it_in_settings(db):
    user = UserFactory(handle="nowhere", verified=True, country="")
    make_verified(user, tier=1)
    with pytest.raises(services.RegionNotLicensed) as caught:
        services.sending_allowed_check(user)
    assert "set your country in Settings" in caught.value.message


def test_region_is_checked_before_tier(db, settings):
    settings.PAYMENTS_LICENSED_REGIONS = ["US"]
    user = UserFactory(handle="french", verified=True, country="FR")
    with pytest.raises(services.RegionNotLicensed):
        services.sending_allowed_check(user)


def test_freeze_is_checked_first_and_says_why_and_how_to_appeal(db, staff, settings):
    settings.PAYMENTS_LICENSED_REGIONS = ["US"]
    user = UserFactory(handle="frozen", verified=True, country="FR")  # also unlicensed and tier 0
    services.freeze_account(staff, user=user, reason="We need to check a payment you received")
    with pytest.raises(services.AccountFrozen) as caught:
        services.sending_allowed_check(user)
    message = caught.value.message
    assert "frozen" in message
    assert "We need to check a payment you received." in message
    assert "/compliance/status/" in message and "appeal" in message


def test_lifting_the_freeze_lets_them_send_again(sender, staff):
    services.freeze_account(staff, user=sender, reason="Suspicious login")
    with pytest.raises(services.AccountFrozen):
        services.sending_allowed_check(sender)
    services.freeze_lift(staff, user=sender, reason="Confirmed with the customer")
    assert services.sending_allowed_check(sender) is None


# --- limit_reserve ------------------------------------------------------------------------


def test_tier_1_sends_up_to_1000_in_7_days(sender):
    reserve(sender, 600_00, "payment:1")
    reserve(sender, 400_00, "payment:2")
    status = services.limit_status(sender)
    assert (status.limit, status.used, status.remaining) == (1_000_00, 1_000_00, 0)
    with pytest.raises(services.LimitExceeded):
        reserve(sender, 1, "payment:3")


def test_limit_message_states_what_remains_and_how_to_raise_it(sender):
    reserve(sender, 880_00, "payment:1")
    with pytest.raises(services.LimitExceeded) as caught:
        reserve(sender, 200_00, "payment:2")
    assert caught.value.message == (
        "You can send $1,000.00 every 7 days at your verification level and have $120.00 left. "
        "Verify your identity with a document to raise your limit to $10,000.00."
    )
    assert caught.value.status == 422 and caught.value.code == "limit_exceeded"
    assert not LimitUsage.objects.filter(reference="payment:2").exists()


def test_limit_message_mentions_a_pending_document(sender, document_file):
    services.kyc_submit_document(sender, file=document_file)
    with pytest.raises(services.LimitExceeded) as caught:
        reserve(sender, 1_500_00, "payment:1")
    assert "have $1,000.00 left" in caught.value.message
    assert "being reviewed" in caught.value.message and "$10,000.00" in caught.value.message


def test_rolling_window_forgets_usage_older_than_7_days(sender):
    reserve(sender, 900_00, "payment:old")
    backdate("payment:old", days=8)
    reserve(sender, 1_000_00, "payment:new")  # the 8-day-old one no longer counts
    assert services.limit_status(sender).used == 1_000_00


def test_usage_6_days_old_still_counts(sender):
    reserve(sender, 900_00, "payment:old")
    backdate("payment:old", days=6)
    with pytest.raises(services.LimitExceeded):
        reserve(sender, 200_00, "payment:new")


def test_released_usage_gives_the_room_back(sender):
    reserve(sender, 1_000_00, "payment:1")
    services.limit_release(reference="payment:1")
    services.limit_release(reference="payment:1")  # idempotent
    services.limit_release(reference="payment:unknown")
    reserve(sender, 1_000_00, "payment:2")
    assert services.limit_status(sender).used == 1_000_00


def test_tier_2_sends_up_to_10000(big_sender):
    reserve(big_sender, 9_999_99, "payment:1")
    reserve(big_sender, 1, "payment:2")
    with pytest.raises(services.LimitExceeded):
        reserve(big_sender, 1, "payment:3")


def test_tier_2_message_says_when_room_frees_up(big_sender):
    reserve(big_sender, 4_000_00, "payment:a")
    backdate("payment:a", days=5)
    reserve(big_sender, 5_000_00, "payment:b")
    backdate("payment:b", days=1)
    with pytest.raises(services.LimitExceeded) as caught:
        reserve(big_sender, 2_000_00, "payment:c")
    message = caught.value.message
    assert message.startswith(
        "You can send $10,000.00 every 7 days at your verification level and have $1,000.00 left."
    )
    assert "Room for this payment frees up on" in message and "7-day window" in message
    assert "Verify your identity" not in message


def test_payment_larger_than_the_whole_limit_says_so(big_sender):
    with pytest.raises(services.LimitExceeded) as caught:
        reserve(big_sender, 10_000_01, "payment:1")
    assert "more than your whole 7-day limit" in caught.value.message


def test_staff_override_replaces_the_tier_limit(sender, staff):
    services.kyc_limit_override_set(
        staff, profile=KycProfile.objects.get(user=sender), usd_minor=25_000_00, reason="Business account"
    )
    reserve(sender, 20_000_00, "payment:1")
    with pytest.raises(services.LimitExceeded) as caught:
        reserve(sender, 6_000_00, "payment:2")
    assert caught.value.message.startswith("Your account can send $25,000.00 every 7 days and has $5,000.00 left.")


def test_tier_0_is_refused_by_limit_reserve_too(newcomer):
    with pytest.raises(services.VerificationRequired):
        reserve(newcomer, 100, "payment:1")
    assert not LimitUsage.objects.exists()


def test_same_reference_is_idempotent(sender):
    first = reserve(sender, 100_00, "payment:1")
    again = reserve(sender, 100_00, "payment:1")
    assert first.pk == again.pk
    assert services.limit_status(sender).used == 100_00


def test_someone_elses_reference_is_a_conflict(sender, big_sender):
    reserve(sender, 100, "payment:1")
    with pytest.raises(Conflict):
        reserve(big_sender, 100, "payment:1")


# --- risk_assess ----------------------------------------------------------------------------


def test_over_3000_is_a_large_amount(sender):
    assert services.risk_assess(sender, usd_minor=3_000_00, new_recipient=False) is None
    assert services.risk_assess(sender, usd_minor=3_000_01, new_recipient=False) == ReviewReason.LARGE_AMOUNT
    assert services.risk_assess(sender, usd_minor=3_000_01, new_recipient=True) == ReviewReason.LARGE_AMOUNT


def test_fourth_new_recipient_within_an_hour_is_a_burst(big_sender):
    # Payments reserves first, then assesses: the payment's own row exists when assessed.
    for n in range(1, 4):
        reserve(big_sender, 10_00, f"payment:{n}", new_recipient=True)
        assert services.risk_assess(big_sender, usd_minor=10_00, new_recipient=True) is None
    reserve(big_sender, 10_00, "payment:4", new_recipient=True)
    assert services.risk_assess(big_sender, usd_minor=10_00, new_recipient=True) == ReviewReason.NEW_RECIPIENT_BURST
    assert (
        services.risk_assess(big_sender, usd_minor=10_00, new_recipient=True, reference="payment:4")
        == ReviewReason.NEW_RECIPIENT_BURST
    )
    # Paying someone already known is never a burst.
    assert services.risk_assess(big_sender, usd_minor=10_00, new_recipient=False) is None


def test_new_recipients_older_than_an_hour_do_not_count(big_sender):
    for n in range(1, 4):
        reserve(big_sender, 10_00, f"payment:{n}", new_recipient=True)
    backdate("payment:1", minutes=61)
    reserve(big_sender, 10_00, "payment:4", new_recipient=True)
    assert services.risk_assess(big_sender, usd_minor=10_00, new_recipient=True, reference="payment:4") is None


def test_payments_to_known_people_do_not_count_towards_a_burst(big_sender):
    for n in range(1, 6):
        reserve(big_sender, 10_00, f"payment:{n}", new_recipient=False)
    reserve(big_sender, 10_00, "payment:6", new_recipient=True)
    assert services.risk_assess(big_sender, usd_minor=10_00, new_recipient=True) is None


def test_thresholds_are_module_constants():
    assert services.LARGE_AMOUNT_USD_MINOR == 300_000
    assert services.BURST_PRIOR_NEW_RECIPIENTS == 3
    assert services.BURST_WINDOW.total_seconds() == 3600
    assert services.SECOND_APPROVAL_OVER_USD_MINOR == 1_000_000
    assert services.REVIEW_WINDOW.total_seconds() == 48 * 3600
