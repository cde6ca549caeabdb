"""Social pages: report a post (``/posts/<id>/report``). Staff hide posts in the admin (social/admin.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from core.errors import DomainError

from ..models import Post, PostReport, ReportReason
from ..services.moderation import DETAILS_MAX_LENGTH, AlreadyReported, PostNotFound, post_report
from ..visibility import post_is_unlocked, post_is_visible


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label="What is wrong with this post?",
        choices=ReportReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why you are reporting this post."},
    )
    details = forms.CharField(
        label="Anything else we should know? (optional)",
        required=False,
        max_length=DETAILS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": DETAILS_MAX_LENGTH}),
        help_text="Only our team sees your report; the author is not told who reported it.",
    )


def _visible_post(request, pk: int) -> Post:
    post = Post.objects.select_related("author").filter(pk=pk).first()
    if post is None or not post_is_visible(request.user, post):
        raise Http404("That post does not exist or you cannot see it.")
    return post


@require_http_methods(["GET", "POST"])
def report(request, pk: int):
    """``/posts/<id>/report``: the reasons, then a confirmation; 404 for posts the viewer cannot see."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.path)
    post = _visible_post(request, pk)
    context = {"post": post, "unlocked": post_is_unlocked(request.user, post)}
    if post.author_id == request.user.pk:
        return render(request, "social/moderation/report.html", {**context, "own": True})
    if PostReport.objects.filter(post_id=post.pk, reporter_id=request.user.pk).exists():
        return render(request, "social/moderation/report.html", {**context, "already": True})
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            post_report(
                request.user, post=post, reason=form.cleaned_data["reason"], details=form.cleaned_data["details"]
            )
        except PostNotFound:
            raise Http404("That post does not exist or you cannot see it.") from None
        except AlreadyReported:
            return render(request, "social/moderation/report.html", {**context, "already": True})
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Thanks for telling us. Our team will review this post.")
            return redirect("social:post_report_done", pk=post.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "social/moderation/report.html", {**context, "form": form}, status=status)


def report_done(request, pk: int):
    """The confirmation after a report: what happens next, and the way back."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.path)
    post = _visible_post(request, pk)
    if not PostReport.objects.filter(post_id=post.pk, reporter_id=request.user.pk).exists():
        return redirect("social:post_report", pk=post.pk)
    return render(request, "social/moderation/report_done.html", {"post": post})


urlpatterns = [
    path("posts/<int:pk>/report", report, name="post_report"),
    path("posts/<int:pk>/report/done", report_done, name="post_report_done"),
]
