"""manage.py vault_rotate: re-encrypt every stored vault secret with the first key of VAULT_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from payments.vault import VaultError, vault_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (linked and issued card numbers, CVVs, check codes) with the first key "
        "in VAULT_KEYS. "
        "Rotation: put the new key first in VAULT_KEYS (keep the old ones), run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        try:
            count = vault_rotate()
        except VaultError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {count} card number(s) and other secrets with the first vault key.")
        )
