"""Demo data: alice, bob, carol, dave (+ --users N more), each with $1,000.00 and identity
details on file (KYC tier 1, so they can send), plus the default FX rates; a few follows
and posts, and carol and dave as creators with subscription tiers. Idempotent.

erin has $50.00 and KYC tier 1 but no card: she is below the card threshold
(CARDS_ISSUE_THRESHOLD, $100.00), so the card journey can watch hers being issued when
someone pays her. Everyone else above the threshold gets a debit card while seeding (the
cards app issues one automatically when a tier 1 person's USD balance reaches it). The demo
shop's card-network merchant is made too.

dave also runs a shop, "Dave's Records" (/shop/daves-records/), with three active listings: two
records (physical, with stock and shipping) and a digital download (a small generated file); no
orders yet, so every demo balance stays as above."""

import io
import wave
from datetime import date
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from compliance.selectors import kyc_profile_for, tier_of
from compliance.services import kyc_submit_details
from core.money import Money, format_money
from ledger import services as ledger
from ledger.models import AccountKind
from payments.models import FxRate
from social.models import Audience, Post
from social.services.creators import creator_mode_set
from social.services.posts import post_create
from social.services.subscriptions import tier_create, tiers_of

FX_RATES_CSV = Path(__file__).resolve().parents[3] / "payments" / "fixtures" / "fx_rates.csv"

DEMO_PASSWORD = "everything-demo"  # noqa: S105 - published demo credential, development data only
DEMO_USERS = [
    ("alice", "Alice Johnson", "Coffee, climbing and cat pictures.", "NY", "America/New_York"),
    ("bob", "Bob Smith", "I build things. Sometimes they work.", "CA", "America/Los_Angeles"),
    ("carol", "Carol Diaz", "Creator. Ceramics and slow travel.", "TX", "America/Chicago"),
    ("dave", "Dave Okafor", "Football, food trucks, splitting the bill.", "IL", "America/Chicago"),
    ("erin", "Erin Park", "New in town. Saving up for my first card.", "WA", "America/Los_Angeles"),
]
OPENING_BALANCE_MINOR = 1_000_00
# Below the card threshold: erin has no card until someone pays her (the card journey).
OPENING_BALANCES_MINOR = {"erin": 50_00}
# bob follows neither alice nor dave: the browser journeys start from there.
DEMO_FOLLOWS = [("alice", "bob"), ("alice", "carol"), ("bob", "carol"), ("carol", "alice"), ("dave", "carol")]
DEMO_CREATORS = {
    "carol": (
        "Studio notes, glaze recipes and first looks at new pieces",
        [("Studio friend", "3.00"), ("Kiln club", "10.00")],
    ),
    "dave": ("Honest food truck reviews, every week", [("Regular", "4.00")]),
}
DEMO_POSTS = [
    ("alice", "Morning climb done, coffee next. Who's in for bouldering on Saturday, @bob? #climbing", {}),
    ("bob", "Shipped a thing today. It works. Mostly. #buildinpublic", {}),
    ("carol", "A new celadon glaze test came out of the kiln this morning. #ceramics", {}),
    (
        "carol",
        "The full recipe for the celadon: 45 feldspar, 25 silica, 20 whiting, 10 kaolin, 1.5 red iron oxide. "
        "Fire to cone 10 in reduction.",
        {"audience": Audience.SUBSCRIBERS, "teaser": "The full celadon recipe, for the studio friends."},
    ),
    ("dave", "Ranking the taco trucks on Western Ave, part 1. Spoiler: the al pastor wins. #foodtrucks", {}),
]  # fmt: skip
# dave's shop (issue 8): (title, description, category, kind, price, stock, shipping minor, ships_to, colour)
DEMO_SHOP = ("dave", "Dave's Records", "daves-records")
DEMO_SHOP_DESCRIPTION = "Second-hand vinyl from the food truck circuit, and the odd mixtape of my own."
DEMO_SHOP_RETURN_POLICY = "Returns within 14 days of delivery if the record arrives damaged."
DEMO_LISTINGS = [
    ("Food Truck Soul, Vol. 1 (LP)", "Original 1974 pressing. Light wear on the sleeve, the vinyl plays clean.",
     "music", "physical", "24.00", 3, 5_00, ["US", "CA"], (196, 84, 44)),
    ("Western Ave Jazz Sessions (LP)", "Live sets recorded at the Western Ave night market. Sealed copy.",
     "music", "physical", "18.50", 5, 4_00, [], (44, 96, 160)),
    ("Matchday Mixtape (digital download)", "Twelve tracks for the walk to the stadium, as a WAV sampler.",
     "music", "digital", "5.00", None, 0, [], (40, 140, 90)),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo users with verified emails and a funded USD wallet each (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=0, help="how many extra users user0001… to create")

    def handle(self, *args, users: int, **options):
        if users < 0 or users > 100_000:
            self.stderr.write("--users must be between 0 and 100000")
            raise SystemExit(2)
        people = list(DEMO_USERS) + [
            (f"user{i:04d}", f"User {i:04d}", "", "CA", "America/Los_Angeles") for i in range(1, users + 1)
        ]
        created = 0
        for handle, name, bio, state, time_zone in people:
            created += self._seed_user(
                handle, {"display_name": name, "bio": bio, "country": "US", "state": state, "time_zone": time_zone}
            )
        self.stdout.write(f"seed_demo: {len(people)} demo users ready ({created} new), password {DEMO_PASSWORD!r}")
        if not FxRate.objects.exists():
            call_command("fx_rates_load", str(FX_RATES_CSV), source="seed_demo", stdout=self.stdout)
        self._seed_social()
        self._seed_cards([handle for handle, *_ in people])
        self._seed_shop()
        if settings.DEBUG:
            self._seed_admin()
        else:
            self.stdout.write("seed_demo: DEBUG is off, so no 'admin' superuser was created")

    @transaction.atomic
    def _seed_user(self, handle: str, profile: dict) -> int:
        User = get_user_model()
        email = f"{handle}@example.com"
        user, created = User.objects.get_or_create(handle=handle, defaults={"email": email, **profile})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        wallet = ledger.account_open(owner=user, kind=AccountKind.WALLET, currency="USD")
        ledger.transfer_post(
            initiator=None,
            debit=ledger.system_account(AccountKind.FUNDING, "USD"),
            credit=wallet,
            amount=OPENING_BALANCES_MINOR.get(handle, OPENING_BALANCE_MINOR),
            currency="USD",
            kind="demo_funding",
            metadata={"note": "Demo opening balance"},
            idempotency_key=f"seed-demo:{handle}",  # a second run replays instead of paying again
        )
        if tier_of(kyc_profile_for(user)) < 1:
            kyc_submit_details(
                user,
                legal_name=profile["display_name"],
                date_of_birth=date(1990, 1, 1),
                address_line1="1 Demo Street",
                city="Springfield",
                region=profile["state"],
                postal_code="62701",
                country="US",
                national_id_last4="0000",
            )
        return int(created)

    def _seed_social(self) -> None:
        """Follows, creators with tiers, and a first post or two each (only for people with no posts yet)."""
        from accounts.social import follow_create

        User = get_user_model()
        people = {user.handle: user for user in User.objects.filter(handle__in=[u[0] for u in DEMO_USERS])}
        for follower, followee in DEMO_FOLLOWS:
            follow_create(people[follower], followee=people[followee])
        for handle, (tagline, tiers) in DEMO_CREATORS.items():
            creator = people[handle]
            creator_mode_set(creator, enabled=True, tagline=tagline)
            if not tiers_of(creator, active_only=False).exists():
                for name, price in tiers:
                    tier_create(
                        creator, name=name, price=Money.parse(price, "USD"), perks=f"{name}: {tagline.lower()}."
                    )
        authors_with_posts = set(
            Post.objects.filter(author__in=people.values()).values_list("author__handle", flat=True)
        )
        for handle, text, extra in DEMO_POSTS:
            if handle not in authors_with_posts:
                post_create(people[handle], text=text, **extra)
        self.stdout.write("seed_demo: follows, posts, and creators carol and dave (with tiers) ready")

    def _seed_cards(self, handles: list[str]) -> None:
        """The demo shop's merchant, and a word on the cards issued while seeding (by the cards
        app's threshold receiver, when a person at tier 1 has a USD balance over the threshold)."""
        from cards.models import Card, CardStatus
        from cards.network import demo_merchant

        merchant = demo_merchant()
        self.stdout.write(f"seed_demo: card network merchant {merchant.name!r} ready for /cards/demo-shop/")
        with_card = sorted(
            Card.objects.filter(user__handle__in=handles)
            .exclude(status=CardStatus.CANCELLED)
            .values_list("user__handle", flat=True)
        )
        without = [handle for handle in handles if handle not in set(with_card)]
        threshold = format_money(settings.CARDS_ISSUE_THRESHOLD, "USD")
        self.stdout.write(
            f"seed_demo: debit cards issued automatically (balance at or over {threshold}): "
            f"{', '.join(with_card) or 'nobody'}; no card yet: {', '.join(without) or 'nobody'}"
        )

    def _seed_shop(self) -> None:
        """dave's shop with its three active listings (each only if missing: safe to run again)."""
        from commerce.models import Listing, ListingStatus, Shop
        from commerce.services import listings as listing_services
        from commerce.services import shops as shop_services

        handle, name, slug = DEMO_SHOP
        owner = get_user_model().objects.get(handle=handle)
        shop = Shop.objects.filter(owner=owner).first() or shop_services.shop_open(
            owner, name=name, slug=slug, description=DEMO_SHOP_DESCRIPTION, return_policy=DEMO_SHOP_RETURN_POLICY
        )
        titles = set(shop.listings.values_list("title", flat=True))
        for title, description, category, kind, price, stock, shipping, ships_to, colour in DEMO_LISTINGS:
            if title in titles:
                continue
            listing = listing_services.listing_create(
                owner,
                title=title,
                description=description,
                category=category,
                kind=kind,
                price=Money.parse(price, "USD"),
                stock=stock,
                shipping_price=shipping,
                ships_to=ships_to,
            )
            listing_services.listing_image_add(owner, listing=listing, file=_demo_cover(title, colour), alt=title)
            if kind == "digital":
                listing_services.listing_digital_file_set(owner, listing=listing, file=_demo_wav())
            listing_services.listing_publish(owner, listing=listing)
        active = Listing.objects.filter(shop=shop, status=ListingStatus.ACTIVE).count()
        self.stdout.write(f"seed_demo: {shop.name!r} at /shop/{shop.slug}/ with {active} active listings ({handle})")

    def _seed_admin(self) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            handle="admin",
            defaults={"email": "admin@example.com", "display_name": "Admin", "is_staff": True, "is_superuser": True},
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=admin, email="admin@example.com", defaults={"verified": True, "primary": True}
        )
        self.stdout.write(f"seed_demo: superuser 'admin' / {DEMO_PASSWORD!r} for /admin/ (development only)")
        # Staff pass MFA to enter the admin (core.admin_mfa): the demo admin's TOTP has a published secret.
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        from core.admin_mfa import DEMO_TOTP_SECRET

        if not Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(admin, DEMO_TOTP_SECRET)
        self.stdout.write(
            f"seed_demo: its authenticator code: add secret {DEMO_TOTP_SECRET} to an authenticator app, or run "
            "DEBUG=1 .venv/bin/python manage.py shell -v 0 -c 'from core.admin_mfa import demo_code; print(demo_code())'"
        )


def _demo_cover(title: str, colour: tuple[int, int, int]) -> SimpleUploadedFile:
    """A small generated record-sleeve PNG for a demo listing (a coloured square with a disc)."""
    image = Image.new("RGB", (480, 480), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((90, 90, 390, 390), fill=(20, 20, 20))
    draw.ellipse((200, 200, 280, 280), fill=(235, 225, 200))
    draw.text((24, 24), title[:40], fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), content_type="image/png")


def _demo_wav() -> SimpleUploadedFile:
    """A small generated download: one second of quiet 8 kHz mono WAV (about 8 KB)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(bytes([128]) * 8000)
    return SimpleUploadedFile("matchday-mixtape-sampler.wav", buffer.getvalue(), content_type="audio/wav")
