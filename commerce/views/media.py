"""Private shop files served through access checks: listing images and shop logos.

Images of browsable listings (active / sold out, shop not suspended) and logos of shops that are
not suspended are for everyone signed in; drafts, archived listings and suspended shops' files
only for the owner (and a suspended shop's logo for staff who may view shops: the admin links it). Anything else is a 404 (never a hint that the file exists).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from accounts.selectors import exclude_blocked

from ..models import ListingImage, ListingStatus, Shop

IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def _stream(field, content_type: str) -> FileResponse:
    try:
        handle = field.storage.open(field.name, "rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404("No such image.") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = IMAGE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def listing_image(request, pk):
    me = request.user.pk
    visible = Q(
        listing__status__in=[ListingStatus.ACTIVE, ListingStatus.SOLD_OUT], listing__shop__suspended_at__isnull=True
    ) | Q(listing__shop__owner_id=me)
    queryset = exclude_blocked(ListingImage.objects.filter(visible, pk=pk), request.user, field="listing__shop__owner")
    image = queryset.first()
    if image is None or not image.file:
        raise Http404("No such image.")
    return _stream(image.file, image.content_type or "application/octet-stream")


@login_required
@require_GET
def shop_logo(request, pk):
    me = request.user.pk
    if request.user.is_staff and request.user.has_perm("commerce.view_shop"):
        # Staff reviewing shops (the admin links here) see any logo, a suspended shop's too.
        shop = Shop.objects.filter(pk=pk).first()
    else:
        queryset = Shop.objects.filter(Q(suspended_at__isnull=True) | Q(owner_id=me), pk=pk)
        shop = exclude_blocked(queryset, request.user, field="owner").first()
    if shop is None or not shop.logo:
        raise Http404("No such image.")
    ext = shop.logo.name.rsplit(".", 1)[-1].lower() if "." in shop.logo.name else ""
    return _stream(shop.logo, LOGO_TYPES.get(ext, "application/octet-stream"))
