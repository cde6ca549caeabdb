from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "Debit cards"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - issues a card when a USD wallet first reaches the threshold
        from .feed import register_feed_source

        register_feed_source()  # card purchases in the wallet activity feed (filter "card")
