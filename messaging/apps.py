from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from notifications.inbound import register_inbound

        from . import money  # noqa: F401 - registers escrow notification links to the thread
        from .services import typing_signal

        register_inbound("typing", typing_signal)
