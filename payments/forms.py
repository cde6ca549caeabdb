"""HTML forms of the wallet: sending money and the wallet settings.

Forms only parse what a person typed; the rules (who may be paid, limits,
funds) live in ``payments.services`` and come back as domain errors that the
view shows on the same form.
"""

from __future__ import annotations

from django import forms

from core.errors import DomainError
from core.idempotency import FORM_FIELD
from core.money import CURRENCIES, Money

from .models import SafetyDelay
from .services.send import NOTE_MAX_LENGTH

CURRENCY_FIELD_CHOICES = [(code, f"{code} ({symbol.strip()})") for code, (_, symbol, _) in CURRENCIES.items()]


class AmountFormMixin:
    """For a form with ``amount`` and ``currency``: puts the parsed ``Money`` in ``cleaned_data["money"]``
    and shows a service's refusal on the form (send, checks)."""

    def clean(self):
        data = super().clean()
        if "amount" in data and "currency" in data:
            try:
                data["money"] = Money.parse(data["amount"], data["currency"])
            except DomainError as exc:
                self.add_error("amount", exc.message)
        return data

    def add_domain_error(self, error: DomainError) -> None:
        """Show a service's refusal: its message on top, its field hints beside the fields."""
        self.add_error(None, error.message)
        for name, hints in (error.fields or {}).items():
            if name in self.fields and name not in self.errors:
                for hint in hints if isinstance(hints, list) else [hints]:
                    self.add_error(name, str(hint))


class SendForm(AmountFormMixin, forms.Form):
    """To, amount, currency and note; ``money`` (a Money) is in ``cleaned_data`` once valid."""

    to = forms.CharField(
        label="To",
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "placeholder": "@handle or name",
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
                "role": "combobox",
                "aria-autocomplete": "list",
                "aria-expanded": "false",
                "aria-controls": "people-suggestions",
            }
        ),
        error_messages={"required": "Choose someone to pay: type their @handle."},
    )
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
        error_messages={"required": "Enter an amount."},
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_FIELD_CHOICES)
    note = forms.CharField(
        label="Note",
        required=False,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 2, "maxlength": NOTE_MAX_LENGTH, "placeholder": "What is it for? (optional)"}
        ),
        help_text=f"Up to {NOTE_MAX_LENGTH} characters; emoji welcome.",
    )
    # Minted with the first form and passed through the confirm step (core.idempotency.FORM_FIELD).
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200, required=False)

    def clean_to(self) -> str:
        to = self.cleaned_data["to"].strip()
        handle = to.removeprefix("@").strip()
        if not handle:
            raise forms.ValidationError("Choose someone to pay: type their @handle.")
        return f"@{handle.lower()}"

    def clean_note(self) -> str:
        note = self.cleaned_data.get("note") or ""
        # Line breaks arrive as \r\n from a textarea; count them as one character, as the browser does.
        note = note.replace("\r\n", "\n")
        if len(note) > NOTE_MAX_LENGTH:
            raise forms.ValidationError(f"The note is {len(note)} characters; the limit is {NOTE_MAX_LENGTH}.")
        return note

    @property
    def hidden_values(self) -> dict:
        """The cleaned values, as the confirm form carries them."""
        data = self.cleaned_data
        return {
            "to": data.get("to", ""),
            "amount": data.get("amount", ""),
            "currency": data.get("currency", ""),
            "note": data.get("note", ""),
            FORM_FIELD: data.get("idempotency_key", ""),
        }


class WalletSettingsForm(forms.Form):
    safety_delay_seconds = forms.TypedChoiceField(
        label="Safety delay for payments to new people",
        choices=SafetyDelay.choices,
        coerce=int,
        widget=forms.RadioSelect,
        help_text=(
            "The first payment you send to someone you have never paid arrives after this delay, "
            "and you can cancel it until then."
        ),
    )
