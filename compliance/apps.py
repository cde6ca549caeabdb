from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: KYC, limits, reviews, freezes"

    def ready(self):
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        from . import services  # noqa: F401 - registers the notification titles compliance sends
        from .signals import admin_log_entry_saved

        # Every staff action in the admin lands in the audit trail (compliance.services.common).
        post_save.connect(admin_log_entry_saved, sender=LogEntry, dispatch_uid="compliance_admin_log_mirror")
