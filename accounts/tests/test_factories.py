from allauth.account.models import EmailAddress

from accounts.tests.factories import PASSWORD, UserFactory


def test_user_factory_makes_a_user_who_can_log_in(db):
    user = UserFactory()
    assert user.handle.startswith("user_")
    assert user.email == f"{user.handle}@example.com"
    assert user.check_password(PASSWORD)
    assert not EmailAddress.objects.filter(user=user).exists()


def test_verified_trait_records_a_verified_primary_address(db):
    user = UserFactory(verified=True)
    address = EmailAddress.objects.get(user=user)
    assert address.verified and address.primary and address.email == user.email
