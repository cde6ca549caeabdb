from django import template
from django.utils.html import format_html

from core.idempotency import FORM_FIELD, new_key

register = template.Library()


@register.simple_tag
def idempotency_field():
    """A hidden field with a fresh key: submitting the same rendered form twice acts once."""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_FIELD, new_key())
