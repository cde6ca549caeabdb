from django.apps import AppConfig, apps


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Shops and orders"

    def ready(self) -> None:
        from .services import orders  # noqa: F401 - registers the order.* notification kinds

        if apps.is_installed("social"):
            # A post that carries a listing shows it with a Buy button (social.hooks).
            from social.hooks import register_post_extras

            from .social import post_listing_cards

            register_post_extras(post_listing_cards)
