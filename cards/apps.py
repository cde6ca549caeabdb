from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "Debit cards"

    def ready(self) -> None:
        from payments.vault import register_vault_field

        from . import receivers  # noqa: F401 - issues a card when a USD wallet first reaches the threshold
        from .feed import register_feed_source

        register_feed_source()  # card purchases in the wallet activity feed (filter "card")
        # The card's number and CVV are vault tokens: ``manage.py vault_rotate`` re-encrypts them too.
        register_vault_field("cards.Card", "number_encrypted", "Card number")
        register_vault_field("cards.Card", "cvv_encrypted", "Card CVV")
