from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up rules; handles are validated by accounts.validators.

    Handles are case-insensitive: whatever the person types is lowercased before it is
    validated, so "Alice" signs up as ``alice`` and collides with an existing ``alice``.
    """

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_taken": "That handle is taken. Please choose another.",
        "username_blacklisted": "That handle is reserved. Please choose another.",
    }

    def clean_username(self, username: str, shallow: bool = False) -> str:
        return super().clean_username((username or "").strip().lower(), shallow=shallow)

    def get_phone(self, user) -> tuple[str, bool] | None:
        """We keep no phone numbers. (allauth's default raises, so headless's
        ``GET /_allauth/*/v1/account/phone`` answered a 500 to every signed-in user.)"""
        return None
