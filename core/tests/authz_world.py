"""One world of real objects for the authorisation matrix: everything belongs to ``owner``.

``other`` is an ordinary verified user with nothing to do with any of it; ``staff`` is a
superuser. ``third`` is the counterparty where an object needs two people (a payment's
recipient, a conversation's other member, who asks the owner for money there, the creator whose
post the owner tipped) — never a role under test; ``seller`` sells the owner a digital item.
Files are written under the test's PRIVATE_MEDIA_ROOT (the matrix's ``world`` fixture).
"""

from __future__ import annotations

from types import SimpleNamespace

from django.utils import timezone

from core.money import Money


def build_world() -> SimpleNamespace:
    from django.core.files.base import ContentFile

    from cards.network import demo_merchant
    from cards.tests.factories import authorize, card_for
    from commerce.models import ListingKind, ListingStatus
    from commerce.tests.factories import (
        make_listing,
        make_order,
        make_shop,
        png_bytes,
        png_upload,
        seller_user,
    )
    from compliance.tests.factories import staff_user
    from lending.services import loan_accept
    from messaging.attachments import attachments_prepare
    from messaging.money import thread_escrow, thread_request
    from messaging.services import conversation_direct_open, message_post
    from payments import processor
    from payments.services.checks import check_write
    from payments.services.funding import card_link, cashout_create, topup_create
    from payments.services.requests import request_create, split_create
    from payments.services.send import payment_send
    from payments.tests.factories import fund, load_test_rates, sender_user
    from savings.models import SavingsGoal
    from savings.services import savings_account_open
    from social.services.tips import post_tip_send
    from social.tests.factories import make_creator, make_paid_subscription, make_post, make_tier

    load_test_rates()
    owner = sender_user("owner")
    other = sender_user("other")
    third = sender_user("third")
    staff = staff_user("staff")
    fund(owner, "5000.00")
    fund(third, "100.00")

    w = SimpleNamespace(owner=owner, other=other, third=third, staff=staff)
    w.payment = payment_send(owner, to=third, amount=Money.parse("5.00", "USD"), safety_delay=False)
    w.request = request_create(owner, payers=[third], amount=Money.parse("3.00", "USD"))[0]
    w.split = split_create(owner, title="Dinner", total=Money.parse("20.00", "USD"), participants=[third])
    w.check = check_write(owner, payee="Acme Plumbing", amount=Money.parse("4.00", "USD"))
    w.conversation = conversation_direct_open(owner, other=third)
    w.message = message_post(owner, conversation=w.conversation, body="hello")
    # Money cards in the owner's 1:1: third asks the owner for money (also the request the owner
    # pays, payments:request_pay), and the owner pays third with protection (a dispute is possible).
    w.request_card = thread_request(third, conversation=w.conversation, amount=Money.parse("2.00", "USD"))[0]
    w.request_in = w.request_card.payment_request
    w.escrow_card = thread_escrow(
        owner,
        conversation=w.conversation,
        amount=Money.parse("6.00", "USD"),
        description="A bike",
        idempotency_key="authz-escrow",
    )
    w.attachment = message_post(
        owner, conversation=w.conversation, attachments=attachments_prepare(owner, [png_upload()])
    ).attachments.get()
    w.post = make_post(owner, text="owner's post")
    w.creator = make_creator(owner)
    # The owner tips third's post (also the tip of payments:tip_done).
    make_creator(third)
    w.tipped_post = make_post(third, text="third's post")
    w.post_tip = post_tip_send(
        owner, post=w.tipped_post, amount=Money.parse("1.00", "USD"), idempotency_key="authz-post-tip"
    )
    w.tip = w.post_tip.payment
    w.tier = make_tier(owner)
    w.subscription = make_paid_subscription(owner, make_tier(third, name="Fan club"))
    w.card = card_for(owner)
    authorize(demo_merchant(), w.card, 350)  # an espresso at the demo shop: the owner's demo order
    w.demo_order = w.card.authorizations.get()
    # A linked funding card, a top-up from it and a cash-out to it.
    exp_year = timezone.now().year + 3
    w.funding_card = card_link(owner, number=processor.APPROVE, exp_month=12, exp_year=exp_year, cvc="123")
    w.top_up = topup_create(
        owner, card=w.funding_card, amount=Money.parse("10.00", "USD"), idempotency_key="authz-top-up"
    )
    w.cash_out = cashout_create(
        owner,
        card=w.funding_card,
        amount=Money.parse("5.00", "USD"),
        speed="standard",
        idempotency_key="authz-cash-out",
    )
    w.savings, _ = savings_account_open(owner, currency="USD")
    w.goal = SavingsGoal.objects.create(user=owner, account=w.savings, name="Bike", target=100_00)
    w.loan = loan_accept(owner, amount=Money(300_00, "USD"), term_months=6, idempotency_key="authz-loan")
    w.shop = make_shop(owner, slug="owner-shop")
    w.shop.logo.save("logo.png", ContentFile(png_bytes()), save=True)
    w.listing = make_listing(w.shop)
    # A draft listing's image: only its owner may see it (images of browsable listings are for all).
    w.draft_image = make_listing(w.shop, status=ListingStatus.DRAFT, images=1).images.get()
    seller = seller_user("seller")
    # A digital order, so the buyer's download exists.
    w.order = make_order(owner, make_listing(seller.shop, kind=ListingKind.DIGITAL))
    w.order_item = w.order.items.first()
    from compliance.services.kyc import kyc_submit_document
    from compliance.tests.conftest import image_upload

    w.kyc = kyc_submit_document(owner, file=image_upload())
    return w
