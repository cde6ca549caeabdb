from django.apps import AppConfig


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = "Lending"

    def ready(self) -> None:
        from notifications.models import register_kind

        register_kind("loan.disbursed", "Your loan is in your wallet")
        register_kind("loan.instalment_paid", "Loan instalment paid")
        register_kind("loan.instalment_failed", "Loan instalment could not be collected")
        register_kind("loan.late_fee", "Late fee charged on your loan")
        register_kind("loan.paid_off", "Your loan is paid off")
