"""Forms: they only shape input; the rules (age, digits, image checks) live in compliance.services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django_countries import countries

from core.errors import ValidationFailed
from core.money import Money

from .models import KycProfile
from .services import DOCUMENT_MAX_BYTES, TEXT_MAX


def apply_domain_error(form: forms.Form, error: ValidationFailed) -> None:
    """Show a service's error on the form: on its fields when it names them, else on top."""
    placed: list[str] = []
    for name, messages in (error.fields or {}).items():
        if name in form.fields:
            form.add_error(name, messages)
            placed.extend(messages)
    if error.message not in placed:
        form.add_error(None, error.message)


class KycDetailsForm(forms.Form):
    legal_name = forms.CharField(
        label="Full legal name",
        max_length=200,
        help_text="As it appears on your passport, ID card or driving licence.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    date_of_birth = forms.DateField(
        label="Date of birth",
        help_text="You must be 18 or older to send money.",
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    address_line1 = forms.CharField(
        label="Street address", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "address-line1"})
    )
    address_line2 = forms.CharField(
        label="Apartment, suite, etc.",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        label="City or town", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    region = forms.CharField(
        label="State or region",
        max_length=100,
        required=False,
        help_text="Required in the United States.",
        widget=forms.TextInput(attrs={"autocomplete": "address-level1"}),
    )
    postal_code = forms.CharField(
        label="Postal code", max_length=20, widget=forms.TextInput(attrs={"autocomplete": "postal-code"})
    )
    country = forms.ChoiceField(label="Country", choices=[("", "— Choose your country —"), *countries])
    national_id_last4 = forms.CharField(
        label="Last 4 digits of your national ID",
        min_length=4,
        max_length=4,
        help_text="For example the last 4 of your Social Security number. We never ask for, or store, the rest.",
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "pattern": "[0-9]{4}", "autocomplete": "off", "class": "input-mono"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("legal_name", "address_line1", "city", "postal_code", "country", "national_id_last4"):
            self.fields[name].error_messages["required"] = "This is required to verify your identity."


class KycDocumentForm(forms.Form):
    document = forms.FileField(
        label="Photo of your identity document",
        help_text=(
            f"A clear photo or scan of your passport, ID card or driving licence: JPEG, PNG or WebP, "
            f"at most {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB. Only our compliance staff can see it."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class AppealForm(forms.Form):
    text = forms.CharField(
        label="Your appeal",
        max_length=TEXT_MAX,
        help_text="Tell us anything that helps us look again. Our team replies by notification.",
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": TEXT_MAX}),
    )


# --- Admin forms ------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    """A required reason or note for a staff decision (reject, lift a freeze...)."""

    reason = forms.CharField(label="Reason", max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))

    def __init__(self, *args, label: str = "Reason", help_text: str = "", required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label
        self.fields["reason"].help_text = help_text
        self.fields["reason"].required = required


class FreezeForm(forms.Form):
    """Staff freeze an account (admin "add freeze")."""

    user = forms.CharField(label="Handle", max_length=40, help_text="The handle of the account to freeze, e.g. @alice.")
    reason = forms.CharField(
        label="Reason shown to the person",
        max_length=TEXT_MAX,
        help_text="Say plainly why. They see it on their status page and can appeal from there.",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )

    def clean_user(self):
        handle = self.cleaned_data["user"].strip().removeprefix("@").lower()
        user = get_user_model().objects.filter(handle=handle).first()
        if user is None:
            raise forms.ValidationError(f"There is no one called @{handle[:40]}.")
        return user


class KycProfileAdminForm(forms.ModelForm):
    """The KYC profile's admin form: every detail is read-only; staff may only raise (or clear)
    the person's 7-day limit, with a reason (through ``kyc_limit_override_set``, audited)."""

    class Meta:
        model = KycProfile
        fields: list[str] = []

    new_limit_usd = forms.CharField(
        label="New 7-day limit (USD)",
        required=False,
        help_text="e.g. 25000.00 for a business account. Leave empty to keep the current limit.",
    )
    clear_override = forms.BooleanField(label="Go back to the tier's limit", required=False)
    override_reason = forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def clean(self):
        cleaned = super().clean()
        raw = (cleaned.get("new_limit_usd") or "").strip()
        clear = cleaned.get("clear_override")
        if raw and clear:
            self.add_error("clear_override", "Either set a new limit or go back to the tier's limit, not both.")
        if raw:
            try:
                cleaned["override_usd_minor"] = Money.parse(raw, "USD").amount
            except ValidationFailed as exc:
                self.add_error("new_limit_usd", exc.message)
        if (raw or clear) and not (cleaned.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why the limit changes: it goes in the audit trail.")
        return cleaned
