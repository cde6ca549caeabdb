"""The database backs the rules that must never break."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from compliance.models import DocumentStatus, KycProfile, LimitUsage, Tier

pytestmark = pytest.mark.django_db


def full_profile(user, **overrides):
    fields = {
        "legal_name": "Ann Example",
        "date_of_birth": date(1990, 1, 1),
        "address_line1": "1 Road",
        "city": "Town",
        "postal_code": "1000",
        "country": "US",
        "national_id_last4": "1234",
        "tier": Tier.DETAILS,
    }
    fields.update(overrides)
    return KycProfile(user=user, **fields)


@pytest.mark.parametrize("last4", ["123", "12a4", "abcd", "12 4"])
def test_national_id_last4_must_be_four_digits(last4):
    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        full_profile(user, national_id_last4=last4).save()


def test_valid_profile_saves():
    full_profile(UserFactory()).save()


def test_tier_needs_its_details():
    with pytest.raises(IntegrityError), transaction.atomic():
        full_profile(UserFactory(), legal_name="").save()


def test_tier_2_needs_an_approved_document():
    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        full_profile(user, tier=Tier.DOCUMENT, document_status=DocumentStatus.PENDING).save()
    full_profile(user, tier=Tier.DOCUMENT, document_status=DocumentStatus.APPROVED).save()


def test_usage_is_never_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        LimitUsage.objects.create(user=UserFactory(), reference="x:1", usd_minor=-1)
