"""Money inside a thread: pay, request, pay with protection and split, as cards that show their current status."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block
from core.errors import NotFound, NotPermitted, ValidationFailed
from core.money import Money
from ledger.services import InsufficientFunds
from messaging import money, services
from messaging.models import Message, MessageKind
from payments.models import Escrow, EscrowStatus, Payment, PaymentRequest, PaymentStatus, RequestStatus, Split
from payments.services.escrow import EscrowNotOpen, escrow_resolve
from payments.services.requests import request_decline
from payments.tests.factories import balance, fund, load_test_rates, sender_user

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture
def alice(db):
    user = sender_user("alice", display_name="Alice Liddell")
    fund(user, "500.00")
    return user


@pytest.fixture
def bob(db):
    user = sender_user("bob", display_name="Bob Builder")
    fund(user, "500.00")
    return user


@pytest.fixture
def carol(db):
    user = sender_user("carol", display_name="Carol Danvers")
    fund(user, "500.00")
    return user


@pytest.fixture
def dave(db):
    return sender_user("dave", display_name="Dave Stranger")


@pytest.fixture
def chat(alice, bob):
    return services.conversation_direct_open(alice, other=bob)


@pytest.fixture
def group(alice, bob, carol):
    return services.conversation_group_create(alice, name="Flatmates", members=[bob, carol])


def card_of(message, viewer):
    fresh = Message.objects.get(pk=message.pk)
    money.cards_decorate([fresh], viewer)
    return fresh.card


def capture_events(monkeypatch):
    sent = []
    monkeypatch.setattr("notifications.services._send_now", lambda user_id, event: sent.append((user_id, event)))
    return sent


# --- Pay -------------------------------------------------------------------------------------------


def test_pay_in_a_direct_thread_posts_a_card_for_both(alice, bob, chat):
    card = money.thread_pay(alice, conversation=chat, amount=usd("12.50"), note="Pizza 🍕")
    assert card.kind == MessageKind.PAYMENT and card.conversation_id == chat.pk and card.sender == alice
    assert card.payment.status == PaymentStatus.COMPLETED and card.payment.recipient == bob
    assert card.body == "Pizza 🍕"
    assert balance(alice) == 48750 and balance(bob) == 51250
    for viewer, title in ((alice, "You paid @bob"), (bob, "@alice paid you")):
        view = card_of(card, viewer)
        assert (view.title, view.status, view.status_label, view.amount) == (title, "paid", "Paid", "$12.50")
    assert [a.name for a in card_of(card, bob).actions] == ["return"]
    assert card_of(card, alice).actions == []
    chat.refresh_from_db()
    assert chat.last_message_id == card.pk


def test_pay_is_idempotent_by_key_one_payment_one_card(alice, bob, chat):
    first = money.thread_pay(alice, conversation=chat, amount=usd("5.00"), idempotency_key="k1")
    again = money.thread_pay(alice, conversation=chat, amount=usd("5.00"), idempotency_key="k1")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and Message.objects.filter(kind="payment").count() == 1
    assert balance(alice) == 49500


def test_a_refused_payment_posts_no_card(alice, bob, chat):
    with pytest.raises(InsufficientFunds):
        money.thread_pay(alice, conversation=chat, amount=usd("900.00"))
    assert not Message.objects.filter(kind="payment").exists() and not Payment.objects.exists()


def test_pay_a_member_of_a_group_only(alice, bob, carol, dave, group):
    card = money.thread_pay(alice, conversation=group, to="@carol", amount=usd("3.00"))
    assert card.payment.recipient == carol and card_of(card, bob).title == "@alice paid @carol"
    with pytest.raises(ValidationFailed, match="@dave is not a member of this group"):
        money.thread_pay(alice, conversation=group, to=dave, amount=usd("3.00"))
    with pytest.raises(ValidationFailed, match="Choose a member"):
        money.thread_pay(alice, conversation=group, amount=usd("3.00"))
    with pytest.raises(ValidationFailed, match="other than yourself"):
        money.thread_pay(alice, conversation=group, to=alice, amount=usd("3.00"))
    assert Payment.objects.count() == 1


def test_strangers_and_blocks_are_refused_and_nothing_moves(alice, bob, carol, dave, chat, group):
    with pytest.raises(services.ConversationNotFound):
        money.thread_pay(dave, conversation=chat, amount=usd("1.00"))
    with pytest.raises(services.ConversationNotFound):
        money.thread_request(dave, conversation=group, amount=usd("1.00"), payers=[alice])
    Block.objects.create(blocker=carol, blocked=alice)
    with pytest.raises(services.MessagingNotAllowed, match="You can't pay @carol"):
        money.thread_pay(alice, conversation=group, to=carol, amount=usd("1.00"))
    with pytest.raises(services.MessagingNotAllowed, match="You can't ask @carol"):
        money.thread_request(alice, conversation=group, amount=usd("1.00"), payers=["@carol"])
    Block.objects.create(blocker=bob, blocked=alice)
    with pytest.raises(NotFound):  # bob hid the 1:1 by blocking; alice is refused
        money.thread_pay(bob, conversation=chat, amount=usd("1.00"))
    with pytest.raises(services.MessagingNotAllowed):
        money.thread_pay(alice, conversation=chat, amount=usd("1.00"))
    with pytest.raises(services.MessagingNotAllowed):
        money.thread_escrow(alice, conversation=chat, amount=usd("1.00"), description="x")
    assert not Payment.objects.exists() and not Escrow.objects.exists() and not PaymentRequest.objects.exists()
    assert balance(alice) == 50000


# --- Requests and splits ------------------------------------------------------------------------------


def test_request_in_a_direct_thread(alice, bob, chat):
    (card,) = money.thread_request(bob, conversation=chat, amount=usd("8.00"), note="Cinema")
    assert card.kind == MessageKind.REQUEST and card.payment_request.payer == alice
    view = card_of(card, alice)
    assert view.title == "@bob asked you" and view.status == "requested" and view.status_label == "Waiting for you"
    assert [a.name for a in view.actions] == ["pay", "decline"]
    assert "never paid @bob" in view.hint  # scam hint: alice has never paid bob
    assert card_of(card, bob).status_label == "Waiting for @alice"
    assert [a.name for a in card_of(card, bob).actions] == ["cancel"]
    money.thread_pay(alice, conversation=chat, amount=usd("1.00"))
    assert card_of(card, alice).hint == ""  # now she has


def test_request_in_a_group_makes_one_card_per_payer(alice, bob, carol, dave, group):
    cards = money.thread_request(alice, conversation=group, amount=usd("4.00"), payers=["@bob", carol])
    assert [c.payment_request.payer for c in cards] == [bob, carol]
    assert card_of(cards[0], carol).title == "@alice asked @bob" and card_of(cards[0], carol).actions == []
    with pytest.raises(ValidationFailed, match="Choose who should pay"):
        money.thread_request(alice, conversation=group, amount=usd("4.00"))
    with pytest.raises(ValidationFailed, match="not a member"):
        money.thread_request(alice, conversation=group, amount=usd("4.00"), payers=[dave])


def test_split_among_the_group_shows_who_has_paid(alice, bob, carol, group):
    card = money.thread_split(alice, conversation=group, title="Groceries", total=usd("30.00"))
    assert card.kind == MessageKind.SPLIT and card.split.requests.count() == 2
    view = card_of(card, bob)
    assert view.status_label == "0 of 2 paid" and [r.status for r in view.rows] == ["requested", "requested"]
    bob_row = next(r for r in view.rows if r.is_viewer)
    assert bob_row.amount == "$10.00" and [a.name for a in bob_row.actions] == ["pay", "decline"]
    bob_request = bob_row.request
    money.card_action(bob, message=card.pk, action="request_pay", request_id=bob_request.pk, idempotency_key="s1")
    for viewer in (alice, bob, carol):  # the whole group sees who has paid
        rows = {r.payer.handle: r.status for r in card_of(card, viewer).rows}
        assert rows == {"bob": "paid", "carol": "requested"}
    assert card_of(card, carol).status_label == "1 of 2 paid"
    carol_request = PaymentRequest.objects.get(split=card.split, payer=carol)
    with pytest.raises(NotFound):  # carol cannot pay bob's row
        money.card_action(carol, message=card.pk, action="request_pay", request_id=bob_request.pk)
    request_decline(carol, request=carol_request)
    assert card_of(card, alice).status == "settled"


def test_split_leaves_out_blocked_members_and_needs_a_group(alice, bob, carol, chat, group):
    Block.objects.create(blocker=carol, blocked=alice)
    card = money.thread_split(alice, conversation=group, title="Taxi", total=usd("10.00"))
    assert [r.payer for r in card.split.requests.all()] == [bob]
    with pytest.raises(ValidationFailed, match="group"):
        money.thread_split(alice, conversation=chat, title="Taxi", total=usd("10.00"))


# --- Pay with protection ------------------------------------------------------------------------------


def test_escrow_card_through_its_whole_life(alice, bob, chat, monkeypatch, django_capture_on_commit_callbacks):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("60.00"), description="Bike", idempotency_key="e")
    assert (
        money.thread_escrow(alice, conversation=chat, amount=usd("60.00"), description="Bike", idempotency_key="e").pk
        == card.pk
    )
    assert Escrow.objects.count() == 1 and card.escrow.context == f"conversation:{chat.pk}"
    buyer_view, seller_view = card_of(card, alice), card_of(card, bob)
    assert buyer_view.status == "held" and [a.name for a in buyer_view.actions] == ["release", "dispute"]
    assert [a.name for a in seller_view.actions] == ["dispute", "refund"]
    assert seller_view.title == "@alice paid you with protection"
    sent = capture_events(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        money.card_action(alice, message=card, action="release")
    assert card_of(card, bob).status == "released" and balance(bob) == 56000
    types = {(uid, e["type"]) for uid, e in sent}
    assert {(alice.pk, "escrow.updated"), (bob.pk, "escrow.updated")} <= types
    assert {(alice.pk, "message.updated"), (bob.pk, "message.updated")} <= types  # the card re-renders for both
    with pytest.raises(EscrowNotOpen):
        money.card_action(alice, message=card, action="release")
    assert balance(bob) == 56000


def test_escrow_dispute_and_staff_refund_show_on_the_card(alice, bob, chat, admin_user):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("20.00"), description="Lamp")
    money.card_action(bob, message=card, action="dispute", reason="Buyer has not collected it")
    assert card_of(card, alice).status == "disputed" and card_of(card, alice).actions == []
    assert [a.name for a in card_of(card, bob).actions] == ["refund"]
    escrow_resolve(admin_user, escrow=card.escrow, outcome="refund", note="Never collected")
    assert card_of(card, alice).status == "refunded" and balance(alice) == 50000


def test_escrow_needs_a_direct_thread(alice, group):
    with pytest.raises(ValidationFailed, match="1:1"):
        money.thread_escrow(alice, conversation=group, amount=usd("1.00"), description="x")


# --- Card actions -------------------------------------------------------------------------------------


def test_return_and_the_statuses_people_see(alice, bob, carol, chat, group):
    card = money.thread_pay(alice, conversation=chat, amount=usd("7.00"))
    with pytest.raises(NotFound):  # only the recipient returns (the payments service says NotFound)
        money.card_action(alice, message=card, action="return")
    with pytest.raises(money.CardNotFound):  # carol is not in the 1:1
        money.card_action(carol, message=card, action="return")
    money.card_action(bob, message=card, action="return")
    assert card_of(card, alice).status == "returned" and balance(alice) == 50000
    (request_card,) = money.thread_request(alice, conversation=chat, amount=usd("2.00"))
    money.card_action(bob, message=request_card, action="request_decline")
    assert card_of(request_card, alice).status == "declined"
    with pytest.raises(money.CardNotFound):
        money.card_action(bob, message=request_card, action="release")


def test_in_review_is_never_shown_to_the_recipient(alice, bob, chat):
    card = money.thread_pay(alice, conversation=chat, amount=usd("5.00"))
    Payment.objects.filter(pk=card.payment_id).update(status=PaymentStatus.IN_REVIEW)
    assert card_of(card, alice).status_label == "Being reviewed"
    assert card_of(card, bob).status_label == "On its way"


def test_cards_decorate_runs_a_bounded_number_of_queries(alice, bob, carol, group, django_assert_max_num_queries):
    def make(n):
        for i in range(n):
            money.thread_pay(alice, conversation=group, to=bob, amount=usd("1.00"), note=f"p{i}")
            money.thread_request(carol, conversation=group, amount=usd("1.00"), payers=[alice])
            money.thread_split(bob, conversation=group, title=f"s{i}", total=usd("3.00"))
        escrow_chat = services.conversation_direct_open(alice, other=carol)
        for _ in range(n):
            money.thread_escrow(alice, conversation=escrow_chat, amount=usd("1.00"), description="e")
        return list(
            Message.objects.filter(kind__in=money.CARD_KINDS).select_related(
                "payment", "payment_request", "escrow", "split"
            )
        )

    few = make(1)
    with django_assert_max_num_queries(10) as few_queries:
        money.cards_decorate(few, alice)
    many = make(6)
    with django_assert_max_num_queries(len(few_queries.captured_queries)):
        money.cards_decorate(many, alice)
    assert all(m.card is not None for m in many)


# --- Views: the flows ---------------------------------------------------------------------------------


def test_pay_flow_form_confirm_submit(client, alice, bob, chat):
    client.force_login(alice)
    page = client.get(f"/messages/{chat.pk}/pay/")
    assert page.status_code == 200 and "@bob" in page.content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode()).group(1)
    form = {"amount": "12.00", "currency": "USD", "note": "Tickets", "idempotency_key": key}
    confirm = client.post(f"/messages/{chat.pk}/pay/confirm/", form)
    body = confirm.content.decode()
    assert confirm.status_code == 200
    for text in ("Bob Builder", "@bob", 'data-testid="account-age"', "Free ($0.00)", "$12.00", "never paid @bob"):
        assert text in body
    assert Payment.objects.count() == 0  # nothing moves at the confirm step
    done = client.post(f"/messages/{chat.pk}/pay/submit/", form)
    card = Message.objects.get(kind="payment")
    assert done.status_code == 302 and done["Location"] == f"/messages/{chat.pk}/#m-{card.pk}"
    again = client.post(f"/messages/{chat.pk}/pay/submit/", form)  # a double click
    assert again.status_code == 302 and Payment.objects.count() == 1 and balance(alice) == 48800
    assert Message.objects.filter(kind="payment").count() == 1
    # The second payment to bob carries no scam warning.
    confirm = client.post(f"/messages/{chat.pk}/pay/confirm/", {**form, "idempotency_key": "other"})
    assert "never paid @bob" not in confirm.content.decode()


def test_pay_confirm_shows_the_exchange_rate_and_what_arrives(client, alice, chat, bob):
    load_test_rates()
    bob.home_currency = "EUR"
    bob.save(update_fields=["home_currency"])
    client.force_login(alice)
    body = client.post(
        f"/messages/{chat.pk}/pay/confirm/", {"amount": "10.00", "currency": "USD", "idempotency_key": "k"}
    ).content.decode()
    assert "1 USD = 0.8955 EUR" in body and "€8.95" in body


def test_pay_flow_errors_stay_on_the_form(client, alice, chat, group):
    client.force_login(alice)
    response = client.post(f"/messages/{chat.pk}/pay/confirm/", {"amount": "9000", "currency": "USD"})
    assert response.status_code == 422 and "You have $500.00 available" in response.content.decode()
    response = client.post(f"/messages/{chat.pk}/pay/confirm/", {"amount": "", "currency": "USD"})
    assert response.status_code == 400 and "Enter an amount." in response.content.decode()
    response = client.post(f"/messages/{group.pk}/pay/confirm/", {"amount": "1", "currency": "USD"})
    assert response.status_code == 400 and "Choose who to pay." in response.content.decode()
    assert client.get(f"/messages/{group.pk}/escrow/").status_code == 400
    assert client.get(f"/messages/{chat.pk}/split/").status_code == 400


def test_group_pay_request_and_split_flows(client, alice, bob, carol, group):
    client.force_login(alice)
    form = {"to": "@carol", "amount": "2.00", "currency": "USD", "idempotency_key": "g1"}
    assert "Carol Danvers" in client.post(f"/messages/{group.pk}/pay/confirm/", form).content.decode()
    assert client.post(f"/messages/{group.pk}/pay/submit/", form).status_code == 302
    assert Payment.objects.get().recipient == carol
    request_form = {"payers": ["@bob", "@carol"], "amount": "5.00", "currency": "USD", "idempotency_key": "r1"}
    body = client.post(f"/messages/{group.pk}/request/confirm/", request_form).content.decode()
    assert "Ask for $5.00 each" in body and "@bob" in body and "@carol" in body
    assert client.post(f"/messages/{group.pk}/request/submit/", request_form).status_code == 302
    assert client.post(f"/messages/{group.pk}/request/submit/", request_form).status_code == 302  # replayed
    assert PaymentRequest.objects.count() == 2
    split_form = {"title": "Dinner", "total": "31.00", "currency": "USD", "method": "equal", "include_me": "on"}
    split_form["idempotency_key"] = "s1"
    body = client.post(f"/messages/{group.pk}/split/confirm/", split_form).content.decode()
    assert "$10.34" in body and "$10.33" in body
    assert client.post(f"/messages/{group.pk}/split/submit/", split_form).status_code == 302
    split = Split.objects.get()
    assert split.total == 3100 and split.requests.count() == 2
    custom = {**split_form, "method": "custom", "idempotency_key": "s2"}
    body = client.post(f"/messages/{group.pk}/split/confirm/", custom).content.decode()
    assert 'name="share_bob"' in body
    custom.update({"share_bob": "20.00", "share_carol": "11.00", "share_alice": "1.00"})
    response = client.post(f"/messages/{group.pk}/split/submit/", custom)
    assert response.status_code == 400 and "add up to $32.00" in response.content.decode()
    del custom["share_alice"], custom["include_me"]  # the whole bill on bob and carol
    assert client.post(f"/messages/{group.pk}/split/submit/", custom).status_code == 302
    assert Split.objects.count() == 2


def test_escrow_flow(client, alice, bob, chat):
    client.force_login(alice)
    form = {"amount": "40.00", "currency": "USD", "description": "Desk", "idempotency_key": "e1"}
    body = client.post(f"/messages/{chat.pk}/escrow/confirm/", form).content.decode()
    assert "released automatically after 7 days" in body and "Bob Builder" in body and "never paid @bob" in body
    done = client.post(f"/messages/{chat.pk}/escrow/submit/", form)
    escrow = Escrow.objects.get()
    assert done.status_code == 302 and escrow.status == EscrowStatus.HELD
    assert client.post(f"/messages/{chat.pk}/escrow/submit/", form).status_code == 302
    assert Escrow.objects.count() == 1


def test_strangers_get_404_everywhere(client, alice, bob, dave, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("1.00"), description="x")
    (request_card,) = money.thread_request(bob, conversation=chat, amount=usd("1.00"))
    client.force_login(dave)
    for url in (
        f"/messages/{chat.pk}/pay/",
        f"/messages/{chat.pk}/request/",
        f"/messages/{chat.pk}/escrow/",
        f"/messages/{chat.pk}/split/",
        f"/messages/cards/{card.pk}/",
        f"/messages/cards/{card.pk}/dispute/",
        f"/messages/cards/{request_card.pk}/requests/{request_card.payment_request_id}/pay/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/messages/{chat.pk}/pay/confirm/",
        f"/messages/{chat.pk}/pay/submit/",
        f"/messages/cards/{card.pk}/release/",
        f"/messages/cards/{request_card.pk}/requests/{request_card.payment_request_id}/decline/",
    ):
        assert client.post(url, {"amount": "1", "currency": "USD"}).status_code == 404, url
    assert client.get("/messages/cards/999999/").status_code == 404
    assert Escrow.objects.get().status == EscrowStatus.HELD


# --- Views: cards ---------------------------------------------------------------------------------------


def test_card_fragment_and_one_click_actions(client, alice, bob, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("15.00"), description="Chair")
    client.force_login(bob)
    fragment = client.get(f"/messages/cards/{card.pk}/").content.decode()
    assert 'data-escrow-id="' in fragment and 'data-status="held"' in fragment and "Chair" in fragment
    refused = client.post(f"/messages/cards/{card.pk}/release/", **FETCH)
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "Only the buyer can release this money."
    client.force_login(alice)
    done = client.post(f"/messages/cards/{card.pk}/release/", **FETCH)
    assert done.status_code == 200 and 'data-status="released"' in done.content.decode()
    again = client.post(f"/messages/cards/{card.pk}/release/", **FETCH)
    assert again.status_code == 409 and "already released" in again.json()["error"]["message"]
    assert balance(bob) == 51500
    plain = client.post(f"/messages/cards/{card.pk}/release/")  # without JavaScript: a page, not JSON
    assert plain.status_code == 409 and "already released" in plain.content.decode()
    assert client.post(f"/messages/cards/{card.pk}/explode/").status_code == 404


def test_return_from_the_card_without_javascript(client, alice, bob, chat):
    card = money.thread_pay(alice, conversation=chat, amount=usd("3.00"))
    client.force_login(bob)
    response = client.post(f"/messages/cards/{card.pk}/return/")
    assert response.status_code == 302 and response["Location"] == f"/messages/{chat.pk}/#m-{card.pk}"
    assert Payment.objects.get().status == PaymentStatus.RETURNED


def test_pay_a_request_from_its_card(client, alice, bob, chat):
    (card,) = money.thread_request(bob, conversation=chat, amount=usd("9.00"), note="Concert")
    url = f"/messages/cards/{card.pk}/requests/{card.payment_request_id}/pay/"
    client.force_login(bob)
    assert client.get(url).status_code == 403  # the requester cannot pay their own request
    client.force_login(alice)
    page = client.get(url).content.decode()
    assert "is asking you for money, and you have never paid them before" in page
    assert "Bob Builder" in page and "$9.00" in page and 'data-testid="account-age"' in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)
    response = client.post(url, {"idempotency_key": key})
    assert response.status_code == 302 and response["Location"].endswith(f"#m-{card.pk}")
    assert client.post(url, {"idempotency_key": key}).status_code == 302  # replayed, not paid twice
    assert PaymentRequest.objects.get().status == RequestStatus.PAID and Payment.objects.count() == 1
    assert balance(alice) == 49100
    assert "there is nothing to pay" in client.get(url).content.decode()


def test_dispute_from_the_card(client, alice, bob, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("25.00"), description="Phone")
    client.force_login(bob)
    url = f"/messages/cards/{card.pk}/dispute/"
    assert "Open a dispute" in client.get(url).content.decode()
    assert client.post(url, {"reason": ""}).status_code == 400
    response = client.post(url, {"reason": "Paid with a stolen card?"})
    assert response.status_code == 302
    escrow = Escrow.objects.get()
    assert escrow.status == EscrowStatus.DISPUTED and escrow.disputed_by == bob
    assert "a dispute can only be opened while the money is held" in client.get(url).content.decode()


def test_the_conversation_page_shows_the_cards(client, alice, bob, chat):
    money.thread_pay(alice, conversation=chat, amount=usd("4.00"), note="Coffee")
    money.thread_escrow(alice, conversation=chat, amount=usd("6.00"), description="Mug")
    client.force_login(bob)
    page = client.get(f"/messages/{chat.pk}/")
    assert page.status_code == 200
    assert page.content.decode().count("data-money-card") == 2


def test_card_placeholder_when_not_decorated(client, alice, chat):
    from django.template.loader import render_to_string

    card = money.thread_pay(alice, conversation=chat, amount=usd("1.00"))
    html = render_to_string("messaging/money/_card.html", {"message": Message.objects.get(pk=card.pk)})
    assert 'data-needs-render="1"' in html and f'data-card-url="/messages/cards/{card.pk}/"' in html


def test_card_times_are_in_the_viewers_time_zone(alice, bob, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("1.00"), description="x")
    view = card_of(card, alice)
    assert "automatically on" in view.detail
    assert timezone.localtime(card.escrow.auto_release_at).strftime("%H:%M") in view.detail


def test_not_permitted_is_reported_plainly(alice, bob, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("1.00"), description="x")
    with pytest.raises(NotPermitted):
        money.card_action(bob, message=card, action="release")


def test_no_dispute_button_once_the_protection_ended(alice, bob, chat):
    card = money.thread_escrow(alice, conversation=chat, amount=usd("1.00"), description="x")
    Escrow.objects.filter(pk=card.escrow_id).update(auto_release_at=timezone.now() - timedelta(minutes=1))
    assert [a.name for a in card_of(card, alice).actions] == ["release"]
    assert [a.name for a in card_of(card, bob).actions] == ["refund"]
    assert "being released automatically" in card_of(card, alice).detail
