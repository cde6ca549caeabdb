"""One world of real objects for the authorisation matrix: everything belongs to ``owner``.

``other`` is an ordinary verified user with nothing to do with any of it; ``staff`` is a
superuser. ``third`` is the counterparty where an object needs two people (a payment's
recipient, an order's seller, a conversation's other member) — never a role under test.
"""

from __future__ import annotations

from types import SimpleNamespace

from core.money import Money


def build_world() -> SimpleNamespace:
    from cards.tests.factories import card_for
    from commerce.tests.factories import make_listing, make_order, make_shop, seller_user
    from compliance.tests.factories import staff_user
    from lending.services import loan_accept
    from messaging.services import conversation_direct_open, message_post
    from payments.models import PaymentKind
    from payments.services.checks import check_write
    from payments.services.requests import request_create, split_create
    from payments.services.send import payment_send
    from payments.tests.factories import fund, load_test_rates, sender_user
    from savings.models import SavingsGoal
    from savings.services import savings_account_open
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
    w.tip = payment_send(
        owner,
        to=third,
        amount=Money.parse("1.00", "USD"),
        kind=PaymentKind.TIP,
        tip_target="profile",
        safety_delay=False,
    )
    w.request = request_create(owner, payers=[third], amount=Money.parse("3.00", "USD"))[0]
    w.split = split_create(owner, title="Dinner", total=Money.parse("20.00", "USD"), participants=[third])
    w.check = check_write(owner, payee="Acme Plumbing", amount=Money.parse("4.00", "USD"))
    w.conversation = conversation_direct_open(owner, other=third)
    w.message = message_post(owner, conversation=w.conversation, body="hello")
    w.post = make_post(owner, text="owner's post")
    w.creator = make_creator(owner)
    w.tier = make_tier(owner)
    w.subscription = make_paid_subscription(owner, make_tier(third, name="Fan club"))
    w.card = card_for(owner)
    w.savings, _ = savings_account_open(owner, currency="USD")
    w.goal = SavingsGoal.objects.create(user=owner, account=w.savings, name="Bike", target=100_00)
    w.loan = loan_accept(owner, amount=Money(300_00, "USD"), term_months=6, idempotency_key="authz-loan")
    w.shop = make_shop(owner, slug="owner-shop")
    w.listing = make_listing(w.shop)
    seller = seller_user("seller")
    w.order = make_order(owner, make_listing(seller.shop))
    w.order_item = w.order.items.first()
    from compliance.services.kyc import kyc_submit_document
    from compliance.tests.conftest import image_upload

    w.kyc = kyc_submit_document(owner, file=image_upload())
    return w
