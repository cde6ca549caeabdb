"""Forms: sign-up and login (through allauth's ACCOUNT_FORMS) and the profile settings."""

from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from .models import MessagePolicy, User
from .services import AVATAR_MAX_BYTES, AvatarInvalid, avatar_prepare
from .validators import HANDLE_MAX_LENGTH, HANDLE_MIN_LENGTH

HANDLE_HELP = (
    f"{HANDLE_MIN_LENGTH}–{HANDLE_MAX_LENGTH} characters: lowercase letters, digits and underscores. "
    "People find and pay you by it."
)

MESSAGE_POLICY_CHOICES = [
    (MessagePolicy.EVERYONE, "Everyone"),
    (MessagePolicy.FOLLOWING, "Only people I follow"),
    (MessagePolicy.NOBODY, "Nobody"),
]


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form with the username shown as what it is here: the handle."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        handle = self.fields["username"]
        handle.label = "Handle"
        handle.help_text = HANDLE_HELP
        handle.widget.attrs.update(
            {
                "placeholder": "yourhandle",
                "autocapitalize": "none",
                "spellcheck": "false",
                "maxlength": str(HANDLE_MAX_LENGTH),
                "pattern": f"[A-Za-z0-9_]{{{HANDLE_MIN_LENGTH},{HANDLE_MAX_LENGTH}}}",
            }
        )
        self.fields["email"].widget.attrs["placeholder"] = "you@example.com"
        # Email first, then handle, then the two passwords.
        order = ["email", "username", "password1", "password2"]
        self.order_fields(order + [name for name in self.fields if name not in order])


class LoginForm(AllauthLoginForm):
    """One field that takes either the email address or the handle."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = "Email or handle"
        login.widget.attrs.update({"placeholder": "you@example.com or yourhandle", "autocapitalize": "none"})


class ProfileForm(forms.ModelForm):
    """The profile settings. The rules live in accounts.services; this only shapes input."""

    avatar = forms.FileField(
        required=False,
        label="New avatar",
        help_text="JPEG, PNG, GIF or WebP, at most 2 MB. It is cropped to a square.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
    )
    remove_avatar = forms.BooleanField(required=False, label="Remove my avatar (show my initials instead)")
    website = forms.URLField(
        required=False,
        max_length=200,
        assume_scheme="https",
        label="Link",
        help_text="A web page of yours, shown on your profile (https://…).",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com", "inputmode": "url"}),
    )

    class Meta:
        model = User
        fields = [
            "display_name",
            "bio",
            "website",
            "is_protected",
            "home_currency",
            "country",
            "state",
            "time_zone",
            "message_policy",
        ]
        labels = {
            "state": "State (US only)",
            "home_currency": "Home currency",
            "message_policy": "Who can message you",
            "is_protected": "Approve new followers",
        }
        help_texts = {
            "display_name": "The name people see next to your handle.",
            "bio": "A line about you, up to 160 characters.",
            "home_currency": "Amounts are shown in this currency first.",
            "time_zone": "Times on the site are shown in this time zone.",
            "message_policy": "Whose new conversations reach you. People you blocked can never message you.",
            "is_protected": "People ask to follow you and you approve them; only your followers see your posts "
            "and who you follow. Turning this off approves everyone waiting.",
        }
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 3, "maxlength": 160}),
            "message_policy": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "— Not in the US —"), *list(self.fields["state"].choices)[1:]]
        self.fields["country"].required = True
        # Left out of a post (an old form, a script): keep the current setting.
        self.fields["message_policy"].required = False
        self.fields["message_policy"].choices = MESSAGE_POLICY_CHOICES

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        if upload.size > AVATAR_MAX_BYTES:
            raise forms.ValidationError(
                f"That image is {upload.size / 1024 / 1024:.1f} MB; the limit is 2 MB.", code="too_big"
            )
        try:
            return avatar_prepare(upload)
        except AvatarInvalid as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None

    def clean(self):
        cleaned = super().clean()
        country = str(cleaned.get("country") or "")
        state = cleaned.get("state") or ""
        address_changed = {"country", "state"} & set(self.changed_data)
        if "country" in cleaned and "state" in cleaned and address_changed:
            if country == "US" and not state:
                self.add_error("state", "Choose your state: it is required for addresses in the United States.")
            elif country != "US" and state:
                self.add_error("state", "A state can only be given when the country is the United States.")
        if cleaned.get("avatar") and cleaned.get("remove_avatar"):
            self.add_error("remove_avatar", "Either upload a new avatar or remove it, not both.")
        return cleaned

    def profile_changes(self) -> dict:
        """Keyword arguments for ``services.profile_update``."""
        changes = {name: self.cleaned_data[name] for name in self._meta.fields}
        changes["country"] = str(changes["country"] or "")
        if not changes.get("message_policy"):
            changes.pop("message_policy", None)
        if self.cleaned_data.get("avatar"):
            changes["avatar"] = self.cleaned_data["avatar"]
        changes["remove_avatar"] = bool(self.cleaned_data.get("remove_avatar"))
        return changes
