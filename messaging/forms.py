"""Forms of the messaging pages. They only parse: the rules live in ``messaging.services``."""

from __future__ import annotations

import re

from django import forms

from .services import GROUP_NAME_MAX_LENGTH, MESSAGE_MAX_LENGTH

HANDLE_SPLIT = re.compile(r"[\s,;]+")


def parse_handles(text: str) -> list[str]:
    """``"@ann, ben  @cat"`` -> ``["@ann", "@ben", "@cat"]`` (order kept, duplicates dropped)."""
    seen, handles = set(), []
    for word in HANDLE_SPLIT.split(text or ""):
        handle = word.strip().lstrip("@").lower()
        if handle and handle not in seen:
            seen.add(handle)
            handles.append(f"@{handle}")
    return handles


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; type and size are checked by ``messaging.attachments``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def _optional_id(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise forms.ValidationError("Not a message.") from None
    if not 0 < number < 2**63:
        raise forms.ValidationError("Not a message.")
    return number


class MessageForm(forms.Form):
    """The composer. An empty body is fine when a file is attached (the service decides)."""

    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 1,
                "maxlength": MESSAGE_MAX_LENGTH,
                "placeholder": "Write a message…",
                "aria-label": "Message",
                "autocomplete": "off",
            }
        ),
    )
    reply_to = forms.CharField(required=False, widget=forms.HiddenInput)
    # "files": the name messaging.attachments reports its errors under.
    files = MultipleFileField(required=False, label="Attach a photo or PDF")

    def clean_reply_to(self):
        return _optional_id(self.cleaned_data.get("reply_to"))


class EditForm(forms.Form):
    body = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MESSAGE_MAX_LENGTH, "aria-label": "Message"}),
    )


class GroupForm(forms.Form):
    name = forms.CharField(max_length=GROUP_NAME_MAX_LENGTH, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    members = forms.CharField(
        required=False,  # clean_members says what is missing
        label="Members",
        help_text="Their @handles, separated by commas. Up to 49 people besides you.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "@ann, @ben", "spellcheck": "false"}),
    )

    def clean_members(self):
        handles = parse_handles(self.cleaned_data.get("members", ""))
        if not handles:
            raise forms.ValidationError("Add at least one person.")
        return handles


class MembersAddForm(forms.Form):
    members = forms.CharField(
        required=False,
        label="Add people",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "@handle, @handle", "spellcheck": "false"}),
    )

    def clean_members(self):
        handles = parse_handles(self.cleaned_data.get("members", ""))
        if not handles:
            raise forms.ValidationError("Add at least one person.")
        return handles


class RenameForm(forms.Form):
    name = forms.CharField(max_length=GROUP_NAME_MAX_LENGTH, label="Group name")
