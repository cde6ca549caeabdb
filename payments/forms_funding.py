"""Forms of the funding pages: link a card, add money, cash out.

They only parse what a person typed; every rule lives in ``payments.services.funding``
(and ``payments.vault``), whose errors the views put back on these forms.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone

from core.errors import ValidationFailed
from core.money import CURRENCY_CHOICES, Money

from .models import CashOutSpeed, FundingCard
from .services.funding import card_label, funding_cards_for


class NoEchoInput(forms.TextInput):
    """A text input that never renders the value back into the page (card number, CVC)."""

    def format_value(self, value):
        return None


class CardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=40,
        strip=True,
        widget=NoEchoInput(
            attrs={
                "autocomplete": "cc-number",
                "inputmode": "numeric",
                "class": "input-mono",
                "placeholder": "1234 5678 9012 3456",
                "spellcheck": "false",
            }
        ),
    )
    exp_month = forms.TypedChoiceField(
        label="Expiry month",
        coerce=int,
        choices=[("", "Month")] + [(m, f"{m:02d}") for m in range(1, 13)],
        widget=forms.Select(attrs={"autocomplete": "cc-exp-month"}),
    )
    exp_year = forms.TypedChoiceField(
        label="Expiry year",
        coerce=int,
        choices=[],
        widget=forms.Select(attrs={"autocomplete": "cc-exp-year"}),
    )
    cvc = forms.CharField(
        label="Security code (CVC)",
        max_length=4,
        strip=True,
        help_text="3 digits on the back; 4 on the front of an American Express card. Used once to verify the card, never stored.",
        widget=NoEchoInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "class": "input-mono", "size": 5}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        year = timezone.now().year
        self.fields["exp_year"].choices = [("", "Year")] + [(y, str(y)) for y in range(year, year + 21)]


class _CardChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: FundingCard) -> str:
        return f"{card_label(obj)} (expires {obj.exp_month:02d}/{obj.exp_year})"


class _MoneyForm(forms.Form):
    """A card of the user's, an amount and a currency; ``cleaned_data["money"]`` is the parsed Money."""

    card = _CardChoiceField(queryset=FundingCard.objects.none(), empty_label=None, label="Card")
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}),
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = funding_cards_for(user)
        self.fields["card"].error_messages["invalid_choice"] = "Choose one of your linked cards."
        self.fields["currency"].initial = user.home_currency

    def clean(self):
        cleaned = super().clean()
        if "amount" in cleaned and "currency" in cleaned:
            try:
                cleaned["money"] = Money.parse(cleaned["amount"], cleaned["currency"])
            except ValidationFailed as exc:
                self.add_error("amount", exc.message)
        return cleaned


class AddMoneyForm(_MoneyForm):
    pass


class CashOutForm(_MoneyForm):
    speed = forms.ChoiceField(
        label="Speed",
        choices=CashOutSpeed.choices,
        initial=CashOutSpeed.STANDARD,
        widget=forms.RadioSelect,
    )
