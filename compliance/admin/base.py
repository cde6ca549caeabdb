"""Shared admin pieces: read-only model admins and the reason (confirmation) pages."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import Truncator

from core.admin import ReadOnlyAdmin, SafeLookupsMixin  # noqa: F401 - re-exported for compliance's admin modules


def short_text(text: str, length: int = 80) -> str:
    return Truncator(text or "").chars(length)


class DecisionPagesMixin:
    """Intermediate pages that collect a reason, for actions and for buttons on the change page."""

    reason_template = "compliance/admin/reason_form.html"

    def reason_page(
        self,
        request,
        *,
        title: str,
        intro: str,
        objects,
        form,
        submit_label: str,
        action: str = "",
        danger: bool = False,
        cancel_url: str = "",
    ):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "objects": list(objects),
            "form": form,
            "submit_label": submit_label,
            "action": action,
            "danger": danger,
            "opts": self.model._meta,
            "cancel_url": cancel_url
            or reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist"),
        }
        return TemplateResponse(request, self.reason_template, context)

    def changelist_url(self) -> str:
        return reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist")

    def change_url(self, obj) -> str:
        return reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change", args=[obj.pk])
