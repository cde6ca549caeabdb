"""Social pages: the home timeline, a post's page, compose / reply / quote, likes and reposts, Explore, tags.

Thin views (DESIGN §6): parse, call ``social.services.posts`` or ``social.selectors``, render.
Posts the viewer may not see are 404 (never leak existence); writes need a signed-in user
(anonymous: the login page, then back); a refusal from a service is shown as a message on
the page, never a 500. Every list page runs a bounded number of queries: the selector's
(rows + image prefetches), one for the "Replying to @x" parents, and the tip totals'.

The like / repost buttons are plain POST forms; ``static/js/social.js`` submits the same
forms with ``Accept: application/json`` and gets ``{"on", "count"}`` back instead of a redirect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import RedirectView

from accounts.selectors import is_blocked_between
from core.errors import DomainError, NotFound, ValidationFailed
from core.http import safe_next
from notifications.selectors import recent_with_live_state

from .. import selectors
from ..hooks import post_extras_attach
from ..models import POST_MAX_IMAGES, POST_MAX_LENGTH, Audience, Post
from ..services import posts as post_services
from ..visibility import viewer_id, visible_posts

PAGE_SIZE = selectors.PAGE_SIZE  # posts per page of the timeline, a tag and a profile

try:  # helper D's tip totals (creator-only) for a page of posts
    from ..earnings import tip_totals_attach
except ImportError:  # pragma: no cover - until it exists
    tip_totals_attach = None


# ---- preparing a page of cards ----------------------------------------------------------------


def _shown(post: Post) -> Post:
    """The post a card shows (a repost's original), carrying the row's viewer annotations.

    The selectors annotate the row; for a repost the ``repost_*`` annotations describe the
    original, so they are copied onto it and every template (and partial) reads one post.
    """
    if post.repost_of_id is None or post.repost_of is None:
        post.shown = post
        return post
    original = post.repost_of
    original.viewer_liked = getattr(post, "viewer_liked", False)
    original.viewer_reposted = getattr(post, "viewer_reposted", False)
    original.unlocked = getattr(post, "repost_unlocked", False)
    original.quote_visible = getattr(post, "repost_quote_visible", False)
    original.quote_unlocked = getattr(post, "repost_quote_unlocked", False)
    post.shown = original
    return original


def cards_prepare(viewer, posts, *, reply_context: bool = True) -> list[Post]:
    """Ready a page of selector rows for ``social/_post.html`` (a fixed number of queries).

    Sets ``shown`` on every row, ``reply_parent`` on every shown reply (its parent when the
    viewer may see it, else None: "Replying to a post"), D's tip totals and ``extras_html``
    (``social.hooks``: one call per registered renderer for the whole page).
    """
    posts = list(posts)
    shown = [_shown(post) for post in posts]
    if reply_context:
        parent_ids = {p.reply_to_id for p in shown if p.reply_to_id}
        parents = {}
        if parent_ids:
            parents = {
                parent.pk: parent
                for parent in visible_posts(viewer, Post.objects.filter(pk__in=parent_ids)).select_related("author")
            }
        for p in shown:
            p.reply_parent = parents.get(p.reply_to_id) if p.reply_to_id else None
    if tip_totals_attach is not None and posts:
        tip_totals_attach(posts, viewer)
    post_extras_attach(shown, viewer)  # apps above social (commerce's listing card): social.hooks
    return posts


# ---- the compose box ----------------------------------------------------------------------------


@dataclass
class Composer:
    """What the compose form shows: the text typed so far and the errors of the last try."""

    text: str = ""
    audience: str = Audience.PUBLIC
    teaser: str = ""
    errors: dict = field(default_factory=dict)
    error: str = ""

    @classmethod
    def from_error(cls, request, error: DomainError) -> Composer:
        composer = cls(
            text=request.POST.get("text", ""),
            audience=request.POST.get("audience", Audience.PUBLIC),
            teaser=request.POST.get("teaser", ""),
        )
        fields = dict(error.fields or {})
        composer.errors = {name: list(value) for name, value in fields.items()}
        # A message not tied to the text box is shown above the form.
        if not fields or not set(fields) & {"text", "audience", "teaser", "images"}:
            composer.error = error.message
        elif "images" in fields:
            composer.error = "Choose the images again."
        return composer


def composer_context(request, composer: Composer | None = None, *, viewer_is_creator: bool | None = None) -> dict:
    """Context for ``social/_composer.html``: the form's state and what the viewer may choose.

    ``viewer_is_creator``: when the caller already knows it (the timeline reads it with its rows).
    """
    if viewer_is_creator is None:
        viewer_is_creator = request.user.is_authenticated and selectors.creator_enabled(request.user)
    return {
        "composer": composer or Composer(),
        "viewer_is_creator": viewer_is_creator,
        "post_max_length": POST_MAX_LENGTH,
        "post_max_images": POST_MAX_IMAGES,
        "audience_choices": Audience.choices,
    }


def _post_input(request) -> dict:
    text = request.POST.get("text", "")
    return {"text": text, "images": request.FILES.getlist("images")[: POST_MAX_IMAGES + 1]}


def _need_login(request, back: str):
    if _wants_json(request):
        return JsonResponse({"detail": "Log in first."}, status=401)
    return redirect_to_login(back)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# ---- the home timeline -----------------------------------------------------------------------


def timeline(request, *, composer: Composer | None = None, status: int = 200):
    """The signed-in home page: compose box, then the timeline newest first (``?before=<id>`` pages)."""
    before = request.GET.get("before")
    try:
        page = selectors.timeline_page(request.user, before=before, limit=PAGE_SIZE)
    except ValidationFailed:
        return redirect("home")
    posts = cards_prepare(request.user, page.posts)
    context = {
        "viewer": request.user,
        "posts": posts,
        "next_before": page.next_before,
        "first_page": not before,
        "top_id": posts[0].pk if posts and not before else 0,
        **composer_context(request, composer, viewer_is_creator=page.viewer_is_creator),
    }
    context.update(_sidebar(request))
    return render(request, "social/timeline.html", context, status=status)


def _sidebar(request) -> dict:
    """The home page's small sidebar (wide screens): balances and the latest notifications.

    The notifications query also carries the nav badge's counts (``request._live_state``, read
    by ``notifications.context_processors.live``), so the page does not count them again.
    """
    try:
        from ledger.selectors import balances_for_owner

        balances = balances_for_owner(owner=request.user)
    except Exception:
        balances = []
    recent, request._live_state = recent_with_live_state(request.user, limit=5)
    return {"balances": balances, "recent_notifications": recent}


@require_POST
def post_create(request):
    """The compose box: write a post (text, up to 4 images, audience, teaser), then the timeline."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("home"))
    try:
        post = post_services.post_create(
            request.user,
            **_post_input(request),
            audience=request.POST.get("audience") or Audience.PUBLIC,
            teaser=request.POST.get("teaser", ""),
        )
    except DomainError as error:
        return timeline(request, composer=Composer.from_error(request, error), status=400)
    messages.success(request, "Your post is live.")
    return redirect(safe_next(request, reverse("home")) + f"#p-{post.pk}")


# ---- one post ------------------------------------------------------------------------------------


def _visible_post(request, pk) -> Post:
    try:
        return selectors.post_for(request.user, pk)
    except NotFound:
        raise Http404("That post does not exist or is not visible to you.") from None


def _detail_context(request, post: Post, *, composer: Composer | None = None) -> dict:
    try:
        thread = selectors.thread_for(request.user, post, after=request.GET.get("after"))
    except ValidationFailed:
        thread = selectors.thread_for(request.user, post)
    main = cards_prepare(request.user, [post, *thread.ancestors, *thread.replies], reply_context=False)
    me = viewer_id(request.user)
    can_reply = bool(me) and post.unlocked and not is_blocked_between(request.user, post.author)
    return {
        "viewer": request.user,
        "post": main[0],
        "ancestors": thread.ancestors,
        "replies": thread.replies,
        "next_after": thread.next_after,
        "can_reply": can_reply,
        "is_mine": me is not None and post.author_id == me,
        **composer_context(request, composer),
    }


@require_GET
def post_detail(request, pk):
    """``/posts/<id>``: the thread above the post, the post, the reply box, the replies (oldest first)."""
    post = _visible_post(request, pk)
    if post.repost_of_id is not None:  # a repost row's page is its original's page
        return redirect("social:post", pk=post.repost_of_id)
    return render(request, "social/post_detail.html", _detail_context(request, post))


@require_POST
def post_reply(request, pk):
    """The reply box on a post's page."""
    if not request.user.is_authenticated:
        return redirect_to_login(post_services.post_path(pk))
    parent = _visible_post(request, pk)
    if parent.repost_of_id is not None:
        parent = _visible_post(request, parent.repost_of_id)
    try:
        reply = post_services.post_create(request.user, **_post_input(request), reply_to=parent.pk)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise Http404(error.message) from None
        context = _detail_context(request, parent, composer=Composer.from_error(request, error))
        return render(request, "social/post_detail.html", context, status=400)
    messages.success(request, "Your reply is posted.")
    return redirect(post_services.post_path(parent.pk) + f"#p-{reply.pk}")


@require_http_methods(["GET", "POST"])
def post_quote(request, pk):
    """Quote a post: GET shows it under a compose box, POST writes the quote."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path() if request.method == "GET" else post_services.post_path(pk))
    quoted = _visible_post(request, pk)
    if quoted.repost_of_id is not None:
        quoted = _visible_post(request, quoted.repost_of_id)
    composer = None
    status = 200
    if request.method == "POST":
        try:
            post = post_services.post_create(
                request.user,
                **_post_input(request),
                quote_of=quoted.pk,
                audience=request.POST.get("audience") or Audience.PUBLIC,
                teaser=request.POST.get("teaser", ""),
            )
        except DomainError as error:
            if isinstance(error, NotFound):
                raise Http404(error.message) from None
            composer, status = Composer.from_error(request, error), 400
        else:
            messages.success(request, "Your quote is posted.")
            return redirect(post_services.post_path(post.pk))
    cards_prepare(request.user, [quoted])
    context = {"viewer": request.user, "quoted": quoted, **composer_context(request, composer)}
    return render(request, "social/quote.html", context, status=status)


@require_http_methods(["GET", "POST"])
def post_delete(request, pk):
    """Delete your own post: GET asks to confirm (showing the post), POST deletes it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path() if request.method == "GET" else post_services.post_path(pk))
    post = _visible_post(request, pk)
    if post.author_id != request.user.pk:
        context = {
            "message": "You can only delete your own posts.",
            "back": post_services.post_path(post.repost_of_id or post.pk),
        }
        return render(request, "social/forbidden.html", context, status=403)
    if request.method == "POST":
        try:
            post_services.post_delete(request.user, post=post.pk)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise Http404(error.message) from None
            messages.error(request, error.message)
            return redirect(post_services.post_path(post.repost_of_id or post.pk))
        messages.success(request, "Repost undone." if post.repost_of_id else "Your post was deleted.")
        back = safe_next(request, reverse("home"))
        if back.split("#")[0] in (post_services.post_path(post.pk), request.path):
            back = reverse("home")
        return redirect(back)
    cards_prepare(request.user, [post])
    return render(request, "social/post_delete.html", {"viewer": request.user, "post": post})


# ---- likes and reposts ------------------------------------------------------------------------


def _toggle(request, pk, *, action, counter: str, on: bool, done: str):
    """Like/unlike/repost/undo: call the service, then JSON for fetch or a redirect back."""
    if not request.user.is_authenticated:
        return _need_login(request, post_services.post_path(pk))
    post_id = selectors.parse_post_id(pk)
    if post_id is None:
        raise Http404()
    try:
        action(request.user, post=post_id)
    except DomainError as error:
        if _wants_json(request):
            return JsonResponse({"detail": error.message, "code": error.code}, status=error.status)
        if isinstance(error, NotFound):
            raise Http404(error.message) from None
        messages.error(request, error.message)
        return redirect(safe_next(request, post_services.post_path(post_id)))
    target_id, count = selectors.visible_counter(request.user, post_id, counter)
    if _wants_json(request):
        return JsonResponse({"on": on, "count": count, "post_id": target_id})
    if done:
        messages.success(request, done)
    return redirect(safe_next(request, post_services.post_path(target_id)))


@require_POST
def post_like(request, pk):
    return _toggle(request, pk, action=post_services.like_create, counter="like_count", on=True, done="")


@require_POST
def post_unlike(request, pk):
    return _toggle(request, pk, action=post_services.like_delete, counter="like_count", on=False, done="")


@require_POST
def post_repost(request, pk):
    return _toggle(request, pk, action=post_services.repost_create, counter="repost_count", on=True, done="Reposted.")


@require_POST
def post_unrepost(request, pk):
    return _toggle(
        request, pk, action=post_services.repost_delete, counter="repost_count", on=False, done="Repost undone."
    )


# ---- images ------------------------------------------------------------------------------------


@require_GET
def post_image(request, pk, n):
    """``/posts/<id>/images/<n>``: one of a post's images, for people who may read the post (else 404)."""
    from ..images import post_image_for, post_image_response

    try:
        image = post_image_for(request.user, post_id=pk, position=n)
    except NotFound:
        raise Http404("No such image.") from None
    return post_image_response(image)


# ---- Explore and tags --------------------------------------------------------------------------


@require_GET
def explore(request):
    """``/explore/``: the last week's popular public posts."""
    posts = cards_prepare(request.user, selectors.explore_page(request.user))
    return render(request, "social/explore.html", {"viewer": request.user, "posts": posts})


@require_GET
def tag(request, tag):
    """``/tags/<tag>``: posts with ``#tag``, newest first (``?before=<id>`` pages)."""
    normalised = selectors.normalise_tag(tag)
    if normalised is None:
        raise Http404("That is not a hashtag.")
    if normalised != tag:
        return redirect("social:tag", tag=normalised)
    before = request.GET.get("before")
    try:
        page = selectors.tag_page(request.user, normalised, before=before, limit=PAGE_SIZE)
    except ValidationFailed:
        return redirect("social:tag", tag=normalised)
    posts = cards_prepare(request.user, page.posts)
    context = {"viewer": request.user, "tag": normalised, "posts": posts, "next_before": page.next_before}
    return render(request, "social/tag.html", context)


urlpatterns = [
    path("explore/", explore, name="explore"),
    path("tags/<str:tag>", tag, name="tag"),
    path("posts/new", post_create, name="post_create"),
    path("posts/<int:pk>", post_detail, name="post"),
    path("posts/<int:pk>/", RedirectView.as_view(pattern_name="social:post", permanent=True)),
    path("posts/<int:pk>/reply", post_reply, name="post_reply"),
    path("posts/<int:pk>/quote", post_quote, name="post_quote"),
    path("posts/<int:pk>/like", post_like, name="post_like"),
    path("posts/<int:pk>/unlike", post_unlike, name="post_unlike"),
    path("posts/<int:pk>/repost", post_repost, name="post_repost"),
    path("posts/<int:pk>/unrepost", post_unrepost, name="post_unrepost"),
    path("posts/<int:pk>/delete", post_delete, name="post_delete"),
    path("posts/<int:pk>/images/<int:n>", post_image, name="post_image"),
]
