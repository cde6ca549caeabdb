"""manage.py vault_rotate: re-encrypt every stored vault secret with the first key of VAULT_KEYS.

``--check`` changes nothing: it counts, per field, the tokens not yet under the first key and
exits non-zero while any remain (so the old key must stay). docs/operations.md, "Vault key
rotation", has the whole procedure.
"""

from django.core.management.base import BaseCommand, CommandError

from payments.vault import VaultError, VaultFieldStatus, vault_rotate, vault_rotation_check


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (linked and issued card numbers, CVVs, check codes) with the first key "
        "in VAULT_KEYS; safe to interrupt and to rerun. With --check, only count what is not yet under the "
        "first key (exit status 1 if anything is). "
        "Rotation: put the new key first in VAULT_KEYS (keep the old ones), deploy, run this, run --check, "
        "then drop the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing: count tokens not yet under the first key, per field; exit 1 if any.",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read per query (default 500).")

    def handle(self, *args, check: bool = False, batch_size: int = 500, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if check:
            return self._check(batch_size)
        try:
            count = vault_rotate(batch_size=batch_size, progress=self._progress)
        except VaultError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {count} secret(s) with the first vault key. Run with --check to confirm.")
        )

    def _progress(self, status: VaultFieldStatus) -> None:
        line = (
            f"{status.label} ({status.name}): {status.total} seen, {status.rewritten} re-encrypted, "
            f"{status.current} already under the first key"
        )
        if status.changed:
            line += f", {status.changed} changed meanwhile by the application (left as written)"
        self.stdout.write(line)

    def _check(self, batch_size: int) -> None:
        pending = 0
        for status in vault_rotation_check(batch_size=batch_size):
            pending += status.pending
            self.stdout.write(
                f"{status.label} ({status.name}): {status.pending} of {status.total} not under the first key"
            )
        if pending:
            raise CommandError(
                f"{pending} secret(s) are not under the first key of VAULT_KEYS yet: run `manage.py vault_rotate` "
                "and keep the old keys until this check passes.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS("Every secret is under the first key: the other keys can be dropped."))
