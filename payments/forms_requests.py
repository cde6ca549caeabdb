"""HTML forms of requests, splits and tips. They only parse; the services decide."""

from __future__ import annotations

from django import forms

from core.errors import DomainError
from core.money import CURRENCIES, CURRENCY_CHOICES, Money

from .models import SplitMethod
from .services.send import NOTE_MAX_LENGTH

# Preset tip amounts in major units of the sender's currency (JPY has no minor unit: bigger steps).
TIP_PRESETS = {"default": ["1", "3", "5", "10"], "JPY": ["100", "300", "500", "1000"]}


def tip_presets(currency: str) -> list[str]:
    return TIP_PRESETS.get(currency, TIP_PRESETS["default"])


def add_domain_error(form: forms.Form, error: DomainError, *, field_map: dict | None = None) -> None:
    """Show a service error on the form: its message on top, field notes beside known fields."""
    field_map = field_map or {}
    placed = False
    for name, notes in (error.fields or {}).items():
        target = field_map.get(name, name)
        if target in form.fields:
            for note in notes if isinstance(notes, list) else [notes]:
                form.add_error(target, str(note))
            placed = True
    if not placed or error.message:
        form.add_error(None, error.message)


class _MoneyForm(forms.Form):
    """Amount + currency → ``cleaned_data["money"]`` (a positive Money) via ``Money.parse``."""

    amount_field = "amount"

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get(self.amount_field)
        currency = cleaned.get("currency")
        if text and currency:
            try:
                cleaned["money"] = Money.parse(text, currency)
            except DomainError as error:
                self.add_error(self.amount_field, error.message)
        return cleaned


class RequestForm(_MoneyForm):
    payers = forms.CharField(
        label="Who should pay?",
        max_length=800,
        help_text="One or more @handles, separated by commas or spaces (at most 20).",
        widget=forms.TextInput(attrs={"placeholder": "@bob, @carol", "autocomplete": "off", "autocapitalize": "none"}),
    )
    amount = forms.CharField(
        label="Amount each",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    note = forms.CharField(
        label="What is it for?",
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Dinner on Friday 🍝"}),
    )


class SplitForm(_MoneyForm):
    amount_field = "total"

    title = forms.CharField(
        label="What are you splitting?",
        max_length=280,
        widget=forms.TextInput(attrs={"placeholder": "Dinner at Luigi's"}),
    )
    total = forms.CharField(
        label="Total",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    participants = forms.CharField(
        label="Split with",
        max_length=800,
        help_text="@handles of the others, separated by commas or spaces (at most 20).",
        widget=forms.TextInput(attrs={"placeholder": "@bob, @carol", "autocomplete": "off", "autocapitalize": "none"}),
    )
    method = forms.ChoiceField(
        label="Shares", choices=SplitMethod.choices, initial=SplitMethod.EQUAL, widget=forms.RadioSelect
    )
    include_me = forms.BooleanField(
        label="Include me", required=False, initial=True, help_text="Count yourself as one of the people sharing."
    )

    def participant_list(self) -> list[str]:
        text = self.cleaned_data.get("participants", "")
        return [part for part in text.replace(",", " ").split() if part]


def shares_from_post(data, *, currency: str) -> dict[str, str]:
    """The ``share_<handle>`` inputs of the custom-shares preview, as {"@handle": "12.50"}."""
    shares = {}
    for name in data:
        if name.startswith("share_") and len(name) > 6:
            value = data.get(name, "")
            shares[f"@{name[6:]}"] = value.strip() if isinstance(value, str) else ""
    return shares


class TipForm(forms.Form):
    preset = forms.CharField(required=False, widget=forms.HiddenInput)
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "Other amount", "autocomplete": "off"}),
    )
    note = forms.CharField(
        label="Say something (optional)",
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Thanks for the great posts! ✨"}),
    )
    target = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.presets = tip_presets(currency)
        self.symbol = currency_symbol(currency)

    def clean(self):
        cleaned = super().clean()
        # A typed amount wins over a preset button.
        text = (cleaned.get("amount") or "").strip() or (cleaned.get("preset") or "").strip()
        if not text:
            self.add_error("amount", "Choose or type an amount.")
            return cleaned
        try:
            cleaned["money"] = Money.parse(text, self.currency)
        except DomainError as error:
            self.add_error("amount", error.message)
        return cleaned


def currency_symbol(currency: str) -> str:
    return CURRENCIES.get(currency, ("", "", ""))[1]
