"""Card admin: pages render, numbers stay masked (no plain number, vault token or fingerprint in any
HTML), merchants get a key shown once, deactivate and freeze actions go through services."""

from __future__ import annotations

import pytest

from cards.models import Authorization, Card, CardEvent, CardStatus, Merchant
from cards.network import merchant_authenticate
from cards.tests.factories import authorize, card_for, merchant, with_details
from compliance.models import AuditEntry
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(
        handle="boss", email="boss@example.com", password="pw-boss-123456"
    )
    client.force_login(user)
    return client


@pytest.fixture
def card(db):
    user = sender_user("carded")
    fund(user, "500.00")
    found = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return with_details(found)


def _no_secrets(html: str, card) -> None:
    assert card.plain_number not in html
    assert card.number_encrypted not in html and card.cvv_encrypted not in html
    assert card.fingerprint not in html


def test_every_page_renders_masked(staff, card):
    shop = merchant("Admin Shop")
    result = authorize(shop, card, 1500)
    authorize(shop, card, 800, cvv="000" if card.plain_cvv != "000" else "111")
    auth = Authorization.objects.get(pk=result["authorization_id"])
    event = CardEvent.objects.filter(authorization=auth).first()
    urls = [
        "/admin/cards/card/",
        f"/admin/cards/card/{card.pk}/change/",
        "/admin/cards/authorization/",
        "/admin/cards/authorization/?status__exact=pending",
        f"/admin/cards/authorization/{auth.pk}/change/",
        "/admin/cards/cardevent/",
        "/admin/cards/merchant/",
        f"/admin/cards/merchant/{shop.pk}/change/",
        "/admin/cards/merchant/add/",
    ]
    if event is not None:
        urls.append(f"/admin/cards/cardevent/{event.pk}/change/")
    for url in urls:
        response = staff.get(url)
        assert response.status_code == 200, url
        _no_secrets(response.content.decode(), card)
    card_page = staff.get(f"/admin/cards/card/{card.pk}/change/").content.decode()
    assert f"•••• {card.last4}" in card_page
    auth_page = staff.get(f"/admin/cards/authorization/{auth.pk}/change/").content.decode()
    assert f"/admin/ledger/transfer/{auth.hold_id}/change/" in auth_page
    # Read-only money rows; a bad filter is not a 500.
    assert staff.get("/admin/cards/authorization/add/").status_code == 403
    assert staff.get("/admin/cards/authorization/?status__exact=%00").status_code in (200, 302)


def test_merchant_add_shows_the_key_once(staff):
    response = staff.post("/admin/cards/merchant/add/", {"name": "Bean Roasters", "category_code": "5499"}, follow=True)
    assert response.status_code == 200
    shop = Merchant.objects.get(name="Bean Roasters")
    shown = [str(m) for m in response.context["messages"]]
    key_message = next(m for m in shown if "API key" in m)
    key = key_message.split(": ", 1)[1].split(" ")[0]
    assert merchant_authenticate(key) == shop
    assert shop.api_key_prefix and key.startswith(shop.api_key_prefix)
    # The list and the change page show the prefix only.
    for url in ("/admin/cards/merchant/", f"/admin/cards/merchant/{shop.pk}/change/"):
        html = staff.get(url).content.decode()
        assert shop.api_key_prefix in html and key not in html and shop.api_key_hash not in html
    assert AuditEntry.objects.filter(action="cards.merchant_add").exists()
    # A bad MCC is a form error, not a 500.
    bad = staff.post("/admin/cards/merchant/add/", {"name": "Nope", "category_code": "12"})
    assert bad.status_code == 200 and not Merchant.objects.filter(name="Nope").exists()


def test_deactivate_action_stops_the_key(staff):
    shop = merchant("Gone Shop")
    response = staff.post(
        "/admin/cards/merchant/", {"action": "deactivate", "_selected_action": [shop.pk]}, follow=True
    )
    assert response.status_code == 200
    shop.refresh_from_db()
    assert not shop.is_active and merchant_authenticate(shop.api_key) is None


def test_freeze_and_unfreeze_actions(staff, card):
    staff.post("/admin/cards/card/", {"action": "freeze_cards", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.status == CardStatus.FROZEN
    assert AuditEntry.objects.filter(action="card.staff_freeze").count() == 1
    staff.post("/admin/cards/card/", {"action": "unfreeze_cards", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
