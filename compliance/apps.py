from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: KYC, limits, reviews, freezes"

    def ready(self):
        from . import services  # noqa: F401 - registers the notification titles compliance sends
