"""Forms of the shop pages: parse and shape input only; the rules live in ``commerce.services``."""

from __future__ import annotations

from django import forms
from django_countries import countries

from core.errors import DomainError, ValidationFailed
from core.money import CURRENCIES, Money

from .models import Category, ListingKind

CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]


def parse_money(text: str, currency: str, *, allow_zero: bool = False) -> int:
    """Major-unit text → minor units ('' or '0' → 0 when ``allow_zero``); raises DomainError."""
    text = (text or "").strip()
    if allow_zero and (not text or text.strip("0.") == ""):
        return 0
    if allow_zero and text.startswith("-"):
        raise ValidationFailed("It can't be negative (use 0 for free).", code="invalid_amount")
    return Money.parse(text, currency).amount


class ShopForm(forms.Form):
    name = forms.CharField(max_length=80)
    slug = forms.CharField(
        max_length=50,
        min_length=3,
        label="Web address",
        help_text="Lower-case letters, digits and hyphens: your shop lives at /shop/your-address/.",
    )
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    return_policy = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    logo = forms.FileField(required=False, help_text="A square PNG, JPEG, GIF or WebP image.")

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()


class ShopSettingsForm(ShopForm):
    slug = None  # the address never changes (links to the shop keep working)


class ListingForm(forms.Form):
    title = forms.CharField(max_length=120)
    description = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 6}))
    category = forms.ChoiceField(choices=Category.choices, initial=Category.OTHER)
    kind = forms.ChoiceField(choices=ListingKind.choices, initial=ListingKind.PHYSICAL, widget=forms.RadioSelect)
    price = forms.CharField(max_length=32, help_text="For example 12.50")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="USD")
    stock = forms.IntegerField(
        min_value=0, max_value=1_000_000, required=False, help_text="Leave empty for unlimited (digital goods)."
    )
    shipping_price = forms.CharField(
        max_length=32, required=False, label="Shipping", help_text="Per order line; 0 for free."
    )
    ships_to = forms.MultipleChoiceField(
        choices=list(countries),
        required=False,
        label="Ships to",
        help_text="Leave empty to ship everywhere.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def clean(self):
        data = super().clean()
        currency = data.get("currency") or "USD"
        if "price" in data:
            try:
                data["price_money"] = Money.parse(data["price"], currency)
            except DomainError as exc:
                self.add_error("price", exc.message)
        if data.get("kind") == ListingKind.DIGITAL:
            data["shipping_minor"] = 0
            data["ships_to"] = []
        else:
            try:
                data["shipping_minor"] = parse_money(data.get("shipping_price") or "", currency, allow_zero=True)
            except DomainError as exc:
                self.add_error("shipping_price", exc.message)
        return data


class ImageForm(forms.Form):
    image = forms.FileField()
    alt = forms.CharField(max_length=420, required=False, label="Describe the image")


class DigitalFileForm(forms.Form):
    file = forms.FileField(label="File delivered to buyers")


class AddressForm(forms.Form):
    name = forms.CharField(max_length=120, label="Full name")
    line1 = forms.CharField(max_length=200, label="Address")
    line2 = forms.CharField(max_length=200, required=False, label="Address line 2")
    city = forms.CharField(max_length=100)
    postcode = forms.CharField(max_length=20, label="Postcode / ZIP")
    country = forms.ChoiceField(choices=list(countries))

    FIELDS = ("name", "line1", "line2", "city", "postcode", "country")

    def address(self) -> dict:
        return {k: (self.cleaned_data.get(k) or "").strip() for k in self.FIELDS}


class ShipForm(forms.Form):
    carrier = forms.CharField(max_length=60, required=False)
    tracking_number = forms.CharField(max_length=60, required=False, label="Tracking number")


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=32, required=False, help_text="Leave empty to refund all that is left.")
    reason = forms.CharField(max_length=500, required=False)
    idempotency_key = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)


class DisputeForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
