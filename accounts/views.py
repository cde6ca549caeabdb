"""HTML views of the accounts app: thin — parse, call a service, render."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.errors import ValidationFailed

from . import services
from .forms import ProfileForm


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    user = request.user
    if request.method == "POST":
        # The form validates a copy, so a refused change never shows up in the nav.
        form = ProfileForm(request.POST, request.FILES, instance=copy.copy(user))
        if form.is_valid():
            try:
                services.profile_update(user, **form.profile_changes())
            except ValidationFailed as exc:
                for field, errors in (exc.fields or {None: [exc.message]}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("accounts:settings")
    else:
        form = ProfileForm(instance=user)
    return render(request, "accounts/settings.html", {"form": form})
