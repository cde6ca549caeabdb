"""Forms of the card pages: spending limits (dollars) and the demo shop's checkout.

The checkout form takes a card number and CVV: they are never echoed back into a re-rendered
form (``render_value`` is off and the number field is emptied on errors) and never logged.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from core.errors import DomainError
from core.money import Money, format_money

CURRENCY = "USD"  # cards spend from the USD wallet


def parse_dollars(text: str) -> int:
    """ "12.34" -> 1234 minor units; raises ``DomainError`` (ValidationFailed) for anything else."""
    return Money.parse((text or "").strip(), CURRENCY).amount


class LimitsForm(forms.Form):
    per_purchase = forms.CharField(max_length=32, label="Per purchase ($)")
    daily = forms.CharField(max_length=32, label="Per day ($)")

    def clean(self):
        data = super().clean()
        maxima = {
            "per_purchase": settings.CARDS_MAX_PURCHASE_LIMIT,
            "daily": settings.CARDS_MAX_DAILY_LIMIT,
        }
        for name, maximum in maxima.items():
            if name not in data:
                continue
            try:
                amount = parse_dollars(data[name])
            except DomainError as exc:
                self.add_error(name, exc.message)
                continue
            if not 0 < amount <= maximum:
                self.add_error(name, f"From $0.01 to {format_money(maximum, CURRENCY)}.")
                continue
            data[f"{name}_minor"] = amount
        return data


EXPIRY_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class CheckoutForm(forms.Form):
    item = forms.ChoiceField(choices=())
    number = forms.CharField(
        max_length=32,
        label="Card number",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )
    expiry = forms.CharField(
        max_length=7,
        label="Expiry (MM/YY)",
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    cvv = forms.CharField(
        max_length=4,
        label="CVV",
        widget=forms.PasswordInput(render_value=False, attrs={"inputmode": "numeric", "autocomplete": "cc-csc"}),
    )
    idempotency_key = forms.CharField(max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(item["id"], item["name"]) for item in items]

    def clean_number(self):
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19:
            raise forms.ValidationError("Enter the 16 digits of the card number.")
        return digits

    def clean_expiry(self):
        match = EXPIRY_RE.match(self.cleaned_data["expiry"])
        if not match:
            raise forms.ValidationError("Enter the expiry as MM/YY.")
        month, year = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise forms.ValidationError("The month is 01 to 12.")
        if year < 100:
            year += 2000
        return month, year

    def clean_cvv(self):
        cvv = self.cleaned_data["cvv"].strip()
        if not (cvv.isascii() and cvv.isdigit()) or len(cvv) not in (3, 4):
            raise forms.ValidationError("The CVV is the 3 digits on the back.")
        return cvv

    def clean_idempotency_key(self):
        key = self.cleaned_data["idempotency_key"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,40}", key):
            raise forms.ValidationError("This form expired: reload the page.")
        return key
