"""Factories for the one user model; other apps import ``UserFactory`` from here.

``UserFactory()`` makes an active user with password ``PASSWORD``;
``UserFactory(verified=True)`` also records a verified primary allauth
``EmailAddress`` so the user can log in through allauth (mandatory verification).
"""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

PASSWORD = "pw-Everything-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("handle",)
        skip_postgeneration_save = True

    handle = factory.Sequence(lambda n: f"user_{n}")
    email = factory.LazyAttribute(lambda o: f"{o.handle}@example.com")
    display_name = factory.LazyAttribute(lambda o: o.handle.replace("_", " ").title())
    is_active = True

    class Params:
        verified = factory.Trait(
            email_address=factory.RelatedFactory(
                "accounts.tests.factories.EmailAddressFactory", factory_related_name="user", verified=True
            )
        )
        unverified_email = factory.Trait(
            email_address=factory.RelatedFactory(
                "accounts.tests.factories.EmailAddressFactory", factory_related_name="user", verified=False
            )
        )

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class EmailAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailAddress

    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda o: o.user.email)
    verified = True
    primary = True


def verify_email(user, *, verified: bool = True) -> EmailAddress:
    """Give ``user`` a primary allauth EmailAddress (verified by default)."""
    address, _ = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": verified, "primary": True}
    )
    return address
