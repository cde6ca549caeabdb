from django.apps import AppConfig


class SavingsConfig(AppConfig):
    name = "savings"
    verbose_name = "Savings"

    def ready(self) -> None:
        # Round-ups ride along with each instant payment, in the same ledger batch (payments.hooks).
        from payments.hooks import register_extra_transfers

        from .roundups import roundup_transfers

        register_extra_transfers(roundup_transfers)
