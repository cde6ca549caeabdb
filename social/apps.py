from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Social and creators"

    def ready(self):
        from . import receivers  # noqa: F401 - tip shares and subscription charges follow their payments
