"""Demo data: alice, bob, carol, dave (+ --users N more), each with $1,000.00 and identity
details on file (KYC tier 1, so they can send), plus the default FX rates. Idempotent."""

from datetime import date
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from compliance.selectors import kyc_profile_for, tier_of
from compliance.services import kyc_submit_details
from ledger import services as ledger
from ledger.models import AccountKind
from payments.models import FxRate

FX_RATES_CSV = Path(__file__).resolve().parents[3] / "payments" / "fixtures" / "fx_rates.csv"

DEMO_PASSWORD = "everything-demo"  # noqa: S105 - published demo credential, development data only
DEMO_USERS = [
    ("alice", "Alice Johnson", "Coffee, climbing and cat pictures.", "NY", "America/New_York"),
    ("bob", "Bob Smith", "I build things. Sometimes they work.", "CA", "America/Los_Angeles"),
    ("carol", "Carol Diaz", "Creator. Ceramics and slow travel.", "TX", "America/Chicago"),
    ("dave", "Dave Okafor", "Football, food trucks, splitting the bill.", "IL", "America/Chicago"),
]
OPENING_BALANCE_MINOR = 1_000_00


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
            amount=OPENING_BALANCE_MINOR,
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
