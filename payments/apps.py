from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments and wallet"

    def ready(self):
        from . import signals  # noqa: F401 - reacts to compliance review decisions
