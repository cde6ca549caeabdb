"""HTML: identity verification, account status (with appeals) and the staff-only document view.

Thin: parse a form, call a service, render.
"""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError, ValidationFailed

from . import services
from .forms import AppealForm, KycDetailsForm, KycDocumentForm, apply_domain_error
from .models import DocumentStatus, KycProfile, Tier
from .selectors import TIER_WEEKLY_LIMITS, account_status, kyc_profile_for


def _details_initial(user, profile: KycProfile | None) -> dict:
    if profile is None or profile.tier < Tier.DETAILS:
        return {"country": str(user.country or ""), "region": user.state or ""}
    return {
        "legal_name": profile.legal_name,
        "date_of_birth": profile.date_of_birth,
        "address_line1": profile.address_line1,
        "address_line2": profile.address_line2,
        "city": profile.city,
        "region": profile.region,
        "postal_code": profile.postal_code,
        "country": str(profile.country or ""),
        "national_id_last4": profile.national_id_last4,
    }


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    user = request.user
    profile = kyc_profile_for(user)
    details_form = KycDetailsForm(initial=_details_initial(user, profile), prefix="details")
    document_form = KycDocumentForm(prefix="document")
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "details":
            details_form = KycDetailsForm(request.POST, prefix="details")
            if details_form.is_valid():
                try:
                    services.kyc_submit_details(user, **details_form.cleaned_data)
                except ValidationFailed as exc:
                    apply_domain_error(details_form, exc)
                else:
                    limit = services.limit_status(user).limit_display
                    messages.success(request, f"Your details are saved: you can now send up to {limit} every 7 days.")
                    return redirect("compliance:verify")
        elif step == "document":
            document_form = KycDocumentForm(request.POST, request.FILES, prefix="document")
            if document_form.is_valid():
                try:
                    services.kyc_submit_document(user, file=document_form.cleaned_data["document"])
                except DomainError as exc:
                    apply_domain_error(document_form, exc)
                else:
                    messages.success(
                        request, "Thanks: your document is with our team. We'll notify you when it's reviewed."
                    )
                    return redirect("compliance:verify")
        else:
            messages.error(request, "Choose what to submit.")
            return redirect("compliance:verify")
    status = account_status(user)
    return render(
        request,
        "compliance/verify.html",
        {
            "status": status,
            "profile": profile,
            "details_form": details_form,
            "document_form": document_form,
            "tier1_limit": TIER_WEEKLY_LIMITS[Tier.DETAILS],
            "tier2_limit": TIER_WEEKLY_LIMITS[Tier.DOCUMENT],
            "DocumentStatus": DocumentStatus,
            "can_upload": profile is not None
            and profile.tier >= Tier.DETAILS
            and profile.document_status != DocumentStatus.APPROVED,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def status(request):
    user = request.user
    form = AppealForm()
    if request.method == "POST":
        form = AppealForm(request.POST)
        if form.is_valid():
            try:
                services.freeze_appeal(user, text=form.cleaned_data["text"])
            except ValidationFailed as exc:
                apply_domain_error(form, exc)
            except DomainError as exc:  # not frozen (any more), or an appeal is already waiting
                messages.error(request, exc.message)
                return redirect("compliance:status")
            else:
                messages.success(request, "Your appeal is sent. Our team will look at it and reply by notification.")
                return redirect("compliance:status")
    return render(request, "compliance/status.html", {"status": account_status(user), "appeal_form": form})


@require_GET
def document(request, pk: int):
    """Stream an identity document to staff who may see KYC profiles in the admin (view or change
    permission), audited. Everyone else — signed in or not, other staff too — gets 404."""
    user = request.user
    may_see = user.has_perm("compliance.view_kycprofile") or user.has_perm("compliance.change_kycprofile")
    if not (user.is_authenticated and user.is_active and user.is_staff and may_see):
        raise Http404("No such page.")
    try:
        opened = services.kyc_document_open(user, profile=pk)
    except DomainError:
        raise Http404("No such document.") from None
    content_type = mimetypes.guess_type(opened.name)[0] or "application/octet-stream"
    response = FileResponse(opened, content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'"
    return response
