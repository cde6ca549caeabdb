"""Social API (under /api/v1/): posts, likes, reposts, replies, the timeline, explore, tags, profiles' posts.

- ``GET/POST /posts/`` (recent visible posts newest first / write a post: JSON, or multipart
  with up to 4 ``images``); ``GET/DELETE /posts/{id}/``;
- ``POST/DELETE /posts/{id}/like/``, ``POST/DELETE /posts/{id}/repost/`` (idempotent);
- ``GET /posts/{id}/replies/?after=`` (oldest first);
- ``GET /timeline/?before=`` (signed in), ``GET /timeline/new-count/?after=``;
- ``GET /explore/``, ``GET /tags/{tag}/posts/?before=``, ``GET /users/{handle}/posts/?before=&replies=``.

Thin: parse strictly, call ``social.services.posts`` / ``social.selectors``, serialise with
``post_data``. Reads are open to anonymous callers (public content only: the visibility rules
of ``social.visibility`` apply to everyone); writes and the timeline need a session. A post
the caller may not see is a 404. A locked subscribers-only post is ``locked: true`` with
``text: null``, ``images: []`` and its ``teaser``: its content never leaves the server.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_for_handle
from core.api import IDEMPOTENCY_KEY_OPTIONAL, StrictCharField, error_responses
from core.errors import ValidationFailed
from core.idempotency import idempotent
from core.parsers import JSON_ONLY, PARSERS

from .. import selectors
from ..images import post_images_prepare
from ..models import POST_MAX_IMAGES, POST_MAX_LENGTH, Audience, Post
from ..services import posts as services

TAGS = ["posts"]
MAX_ID = 2**63 - 1


# --- output ------------------------------------------------------------------------------------


def _image_url(post_id: int, position: int) -> str:
    try:
        return reverse("social:post_image", args=[post_id, position])
    except NoReverseMatch:
        return f"/posts/{post_id}/images/{position}/"


def _author_data(user) -> dict:
    return {
        "id": user.pk,
        "handle": user.handle,
        "display_name": user.display_name,
        "avatar_url": user.avatar.url if user.avatar else None,
        "is_creator": selectors.creator_enabled(user),
        "is_protected": user.is_protected,
    }


def _kind(post: Post) -> str:
    if post.repost_of_id:
        return "repost"
    if post.reply_to_id:
        return "reply"
    if post.quote_of_id:
        return "quote"
    return "post"


def _content(post: Post, *, unlocked: bool) -> dict:
    """The fields every serialised post has (no nesting)."""
    deleted = post.deleted_at is not None
    locked = not unlocked and not deleted
    return {
        "id": post.pk,
        "kind": _kind(post),
        "url": services.post_path(post.pk),
        "author": _author_data(post.author),
        "created_at": post.created_at.isoformat(),
        "reply_to": post.reply_to_id,
        "thread_root": post.thread_root_id,
        "audience": post.audience,
        "locked": locked,
        "text": None if locked or deleted else post.text,
        "teaser": post.teaser if post.audience == Audience.SUBSCRIBERS and not deleted else "",
        "images": []
        if locked or deleted
        else [
            {
                "position": image.position,
                "url": _image_url(post.pk, image.position),
                "width": image.width,
                "height": image.height,
                "content_type": image.content_type,
                "alt": image.alt,
            }
            for image in post.images.all()
        ],
        "like_count": post.like_count,
        "reply_count": post.reply_count,
        "repost_count": post.repost_count,
        "quote_count": post.quote_count,
        "deleted": deleted,
        "hidden": post.hidden_at is not None,
    }


def _embedded(post: Post | None, *, visible: bool, unlocked: bool) -> dict | None:
    if post is None or not visible:
        return None
    data = _content(post, unlocked=unlocked)
    data.update(repost_of=None, quote_of=None, quote_unavailable=False)
    return data


def post_data(post: Post) -> dict:
    """A post annotated by ``social.selectors`` as JSON: a repost nests its original, a quote its
    quoted post (``null`` with ``quote_unavailable: true`` when the caller may not see it)."""
    data = _content(post, unlocked=bool(getattr(post, "unlocked", False)))
    data["viewer_liked"] = bool(getattr(post, "viewer_liked", False))
    data["viewer_reposted"] = bool(getattr(post, "viewer_reposted", False))
    data["repost_of"] = None
    data["quote_of"] = None
    data["quote_unavailable"] = False
    original = post.repost_of if post.repost_of_id else None
    if original is not None:
        nested = _content(original, unlocked=bool(getattr(post, "repost_unlocked", False)))
        quote = original.quote_of if original.quote_of_id else None
        nested["repost_of"] = None
        nested["quote_of"] = _embedded(
            quote,
            visible=bool(getattr(post, "repost_quote_visible", False)),
            unlocked=bool(getattr(post, "repost_quote_unlocked", False)),
        )
        nested["quote_unavailable"] = original.quote_of_id is not None and nested["quote_of"] is None
        data["repost_of"] = nested
    if post.quote_of_id:
        data["quote_of"] = _embedded(
            post.quote_of,
            visible=bool(getattr(post, "quote_visible", False)),
            unlocked=bool(getattr(post, "quote_unlocked", False)),
        )
        data["quote_unavailable"] = data["quote_of"] is None
    return data


_AUTHOR = inline_serializer(
    name="PostAuthor",
    fields={
        "id": serializers.IntegerField(),
        "handle": serializers.CharField(),
        "display_name": serializers.CharField(),
        "avatar_url": serializers.CharField(allow_null=True),
        "is_creator": serializers.BooleanField(),
        "is_protected": serializers.BooleanField(),
    },
)
_IMAGE = inline_serializer(
    name="PostImageOut",
    fields={
        "position": serializers.IntegerField(),
        "url": serializers.CharField(help_text="The image, served after the same visibility check"),
        "width": serializers.IntegerField(),
        "height": serializers.IntegerField(),
        "content_type": serializers.CharField(),
        "alt": serializers.CharField(),
    },
)


class EmbeddedPostSerializer(serializers.Serializer):
    """A post's own fields (used for a repost's original and a quote's quoted post)."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="post, reply, repost or quote")
    url = serializers.CharField(help_text="The post's web page")
    author = _AUTHOR
    created_at = serializers.DateTimeField()
    reply_to = serializers.IntegerField(allow_null=True)
    thread_root = serializers.IntegerField(allow_null=True)
    audience = serializers.ChoiceField(choices=Audience.values)
    locked = serializers.BooleanField(help_text="Subscribers only and the caller is not a subscriber")
    text = serializers.CharField(allow_null=True, help_text="null when locked or deleted")
    teaser = serializers.CharField(help_text="What non-subscribers see of a subscribers-only post")
    images = serializers.ListField(child=_IMAGE)
    like_count = serializers.IntegerField()
    reply_count = serializers.IntegerField()
    repost_count = serializers.IntegerField()
    quote_count = serializers.IntegerField()
    deleted = serializers.BooleanField()
    hidden = serializers.BooleanField(help_text="Hidden by staff (only its author still sees it)")
    quote_unavailable = serializers.BooleanField()


class PostSerializer(EmbeddedPostSerializer):
    viewer_liked = serializers.BooleanField(help_text="For a repost: the caller liked the original")
    viewer_reposted = serializers.BooleanField(help_text="For a repost: the caller reposted the original")
    repost_of = EmbeddedPostSerializer(allow_null=True, help_text="A repost's original (one level)")
    quote_of = EmbeddedPostSerializer(
        allow_null=True, help_text="The quoted post (one level); null with quote_unavailable when not visible"
    )


def _page_serializer(name: str, cursor: str) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "results": PostSerializer(many=True),
            cursor: serializers.IntegerField(allow_null=True, help_text=f"Pass as ?{cursor.split('_')[1]}= for more"),
            "next": serializers.CharField(allow_null=True, help_text="The next page's URL"),
        },
    )


PAGE_SERIALIZER = _page_serializer("PostPage", "next_before")
REPLIES_SERIALIZER = _page_serializer("ReplyPage", "next_after")


def _page_response(request, page: selectors.Page) -> Response:
    nxt = None
    if page.next_before is not None:
        query = request.GET.copy()
        query["before"] = str(page.next_before)
        nxt = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response({"results": [post_data(post) for post in page.posts], "next_before": page.next_before, "next": nxt})


# --- input -------------------------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """A JSON integer, or (multipart forms) a string of ASCII digits; never a bool, float or "1.0"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        if isinstance(data, str) and not (data.isascii() and data.isdigit() and len(data) <= 19):
            self.fail("invalid")
        return super().to_internal_value(data)


class PostCreateSerializer(serializers.Serializer):
    text = StrictCharField(max_length=POST_MAX_LENGTH * 2, trim_whitespace=False, allow_blank=True)
    reply_to = IdField(required=False, allow_null=True)
    quote_of = IdField(required=False, allow_null=True)
    audience = serializers.ChoiceField(choices=Audience.values, required=False, default=Audience.PUBLIC)
    teaser = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, max_length=POST_MAX_LENGTH * 2)

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - {"images"})
            if unknown:
                raise serializers.ValidationError({name[:64]: ["Unknown field."] for name in unknown[:20]})
        return super().to_internal_value(data)


def _valid(serializer_class, data) -> dict:
    if not hasattr(data, "keys"):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    form = serializer_class(data=data)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _query_id(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    value = selectors.parse_post_id(raw)
    if value is None:
        raise ValidationFailed(f"“{name}” must be a post id.", code="invalid", fields={name: ["Must be a post id."]})
    return value


def _query_bool(request, name: str) -> bool:
    raw = request.query_params.get(name, "")
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise ValidationFailed(
        f"“{name}” must be true or false.", code="invalid", fields={name: ["Must be true or false."]}
    )


def _query_limit(request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return default
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= selectors.MAX_PAGE_SIZE):
        raise ValidationFailed(
            f"“limit” must be 1 to {selectors.MAX_PAGE_SIZE}.", code="invalid", fields={"limit": ["Out of range."]}
        )
    return int(raw)


def _no_fields(request) -> None:
    data = request.data
    if not hasattr(data, "keys"):
        raise ValidationFailed("This request takes no body.", code="invalid")
    if data:
        names = [str(name)[:64] for name in list(data.keys())[:20]]
        raise ValidationFailed("This request takes no fields.", fields={name: ["Unknown field."] for name in names})


_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
_BEFORE = OpenApiParameter(
    "before", OpenApiTypes.INT, description="The previous page's next_before (posts older than this id)"
)
_LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description=f"1–{selectors.MAX_PAGE_SIZE}, default 20")


# --- views -------------------------------------------------------------------------------------


class PostListView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = PARSERS

    @extend_schema(
        operation_id="posts_list",
        summary="Recent posts",
        description="Every post the caller may see (replies and reposts included), newest first. Public.",
        parameters=[_BEFORE, _LIMIT],
        responses={200: PAGE_SERIALIZER, **error_responses(400)},
        tags=TAGS,
    )
    def get(self, request):
        page = selectors.recent_page(
            request.user,
            before=_query_id(request, "before"),
            limit=_query_limit(request, selectors.PAGE_SIZE),
        )
        return _page_response(request, page)

    @extend_schema(
        operation_id="posts_create",
        summary="Write a post, a reply or a quote",
        description=(
            f'JSON `{{"text": "…", "reply_to": id, "quote_of": id, "audience": "public"|"subscribers", '
            f'"teaser": "…"}}`, or multipart/form-data with the same fields and up to {POST_MAX_IMAGES} '
            "`images` (JPEG, PNG, GIF, WebP, at most 10 MB each, checked from their content, metadata "
            f"stripped). Text 1–{POST_MAX_LENGTH} characters. Subscribers-only needs creator mode; replies "
            "are public. @mentions notify (`mention.new`), a reply notifies the parent's author "
            "(`reply.new`), a new top-level post pushes `post.new` to the author's followers."
        ),
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        request={
            "application/json": PostCreateSerializer,
            "multipart/form-data": inline_serializer(
                name="PostCreateMultipart",
                fields={
                    "text": serializers.CharField(),
                    "reply_to": serializers.IntegerField(required=False),
                    "quote_of": serializers.IntegerField(required=False),
                    "audience": serializers.ChoiceField(choices=Audience.values, required=False),
                    "teaser": serializers.CharField(required=False),
                    "images": serializers.ListField(child=serializers.FileField(), required=False),
                },
            ),
        },
        responses={201: PostSerializer, **error_responses(400, 403, 404)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request):
        data = _valid(PostCreateSerializer, request.data)
        files = request.FILES.getlist("images") if hasattr(request.FILES, "getlist") else []
        images = post_images_prepare(files) if files else []
        post = services.post_create(
            request.user,
            text=data["text"],
            images=images,
            reply_to=data.get("reply_to"),
            quote_of=data.get("quote_of"),
            audience=data.get("audience") or Audience.PUBLIC,
            teaser=data.get("teaser", ""),
        )
        return Response(post_data(selectors.post_for(request.user, post.pk)), status=201)


class PostDetailView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = JSON_ONLY

    @extend_schema(
        operation_id="posts_retrieve",
        summary="One post",
        parameters=[_ID],
        responses={200: PostSerializer, **error_responses(404)},
        tags=TAGS,
    )
    def get(self, request, pk: str):
        return Response(post_data(selectors.post_for(request.user, pk)))

    @extend_schema(
        operation_id="posts_destroy",
        summary="Delete your post",
        description="The post becomes a tombstone (text and images gone; replies stay). Idempotent.",
        parameters=[_ID],
        request=None,
        responses={204: None, **error_responses(403, 404)},
        tags=TAGS,
    )
    def delete(self, request, pk: str):
        services.post_delete(request.user, post=pk)
        return Response(status=204)


_LIKE = inline_serializer(
    name="LikeState", fields={"liked": serializers.BooleanField(), "like_count": serializers.IntegerField()}
)
_REPOST = inline_serializer(
    name="RepostState",
    fields={
        "reposted": serializers.BooleanField(),
        "repost_count": serializers.IntegerField(),
        "repost_id": serializers.IntegerField(allow_null=True),
    },
)


class LikeView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = JSON_ONLY

    @extend_schema(
        operation_id="posts_like",
        summary="Like a post",
        description="Idempotent. Liking a repost likes its original.",
        parameters=[_ID],
        request=None,
        responses={200: _LIKE, **error_responses(403, 404)},
        tags=TAGS,
    )
    def post(self, request, pk: str):
        _no_fields(request)
        services.like_create(request.user, post=pk)
        return Response({"liked": True, "like_count": selectors.visible_counter(request.user, pk, "like_count")[1]})

    @extend_schema(
        operation_id="posts_unlike",
        summary="Remove your like",
        description="Idempotent.",
        parameters=[_ID],
        request=None,
        responses={200: _LIKE, **error_responses(404)},
        tags=TAGS,
    )
    def delete(self, request, pk: str):
        services.like_delete(request.user, post=pk)
        return Response({"liked": False, "like_count": selectors.visible_counter(request.user, pk, "like_count")[1]})


class RepostView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = JSON_ONLY

    @extend_schema(
        operation_id="posts_repost",
        summary="Repost a post",
        description="Idempotent. Reposting a repost reposts its original. Protected accounts' posts: 403.",
        parameters=[_ID],
        request=None,
        responses={200: _REPOST, **error_responses(403, 404)},
        tags=TAGS,
    )
    def post(self, request, pk: str):
        _no_fields(request)
        repost = services.repost_create(request.user, post=pk)
        count = Post.objects.filter(pk=repost.repost_of_id).values_list("repost_count", flat=True).first() or 0
        return Response({"reposted": True, "repost_count": count, "repost_id": repost.pk})

    @extend_schema(
        operation_id="posts_unrepost",
        summary="Undo your repost",
        description="Idempotent.",
        parameters=[_ID],
        request=None,
        responses={200: _REPOST, **error_responses(404)},
        tags=TAGS,
    )
    def delete(self, request, pk: str):
        services.repost_delete(request.user, post=pk)
        return Response(
            {
                "reposted": False,
                "repost_count": selectors.visible_counter(request.user, pk, "repost_count")[1],
                "repost_id": None,
            }
        )


class RepliesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="posts_replies",
        summary="Replies to a post",
        description="Direct replies the caller may see, oldest first; `?after=` the previous page's next_after.",
        parameters=[_ID, OpenApiParameter("after", OpenApiTypes.INT), _LIMIT],
        responses={200: REPLIES_SERIALIZER, **error_responses(400, 404)},
        tags=TAGS,
    )
    def get(self, request, pk: str):
        post = selectors.post_for(request.user, pk)
        page = selectors.replies_page(
            request.user,
            post,
            after=_query_id(request, "after"),
            limit=_query_limit(request, selectors.REPLIES_PAGE_SIZE),
        )
        nxt = None
        if page.next_after is not None:
            query = request.GET.copy()
            query["after"] = str(page.next_after)
            nxt = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response({"results": [post_data(p) for p in page.posts], "next_after": page.next_after, "next": nxt})


class TimelineView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="timeline",
        summary="Your home timeline",
        description="Your posts and those of the people you follow (reposts included, replies not), newest first.",
        parameters=[_BEFORE, _LIMIT],
        responses={200: PAGE_SERIALIZER, **error_responses(400, 403)},
        tags=TAGS,
    )
    def get(self, request):
        page = selectors.timeline_page(
            request.user, before=_query_id(request, "before"), limit=_query_limit(request, selectors.PAGE_SIZE)
        )
        return _page_response(request, page)


class TimelineNewCountView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="timeline_new_count",
        summary="How many timeline posts are newer than a post",
        description=f"At most {selectors.NEW_COUNT_CAP} (meaning {selectors.NEW_COUNT_CAP} or more).",
        parameters=[OpenApiParameter("after", OpenApiTypes.INT, required=True)],
        responses={
            200: inline_serializer(name="TimelineNewCount", fields={"count": serializers.IntegerField()}),
            **error_responses(400, 403),
        },
        tags=TAGS,
    )
    def get(self, request):
        # after=0: "everything" (an empty timeline has no top post yet).
        after = 0 if request.query_params.get("after") == "0" else _query_id(request, "after")
        if after is None:
            raise ValidationFailed("Give ?after=<post id>.", code="invalid", fields={"after": ["Required."]})
        return Response({"count": selectors.timeline_new_count(request.user, after=after)})


class ExploreView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="explore",
        summary="Recent popular posts",
        description="The last 7 days' public posts by likes + 2 × reposts + replies + quotes, then newest.",
        responses={
            200: inline_serializer(name="ExplorePage", fields={"results": PostSerializer(many=True)}),
        },
        tags=TAGS,
    )
    def get(self, request):
        return Response({"results": [post_data(post) for post in selectors.explore_page(request.user)]})


class TagPostsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="tag_posts",
        summary="Posts with a hashtag",
        parameters=[OpenApiParameter("tag", OpenApiTypes.STR, OpenApiParameter.PATH), _BEFORE, _LIMIT],
        responses={200: PAGE_SERIALIZER, **error_responses(400)},
        tags=TAGS,
    )
    def get(self, request, tag: str):
        page = selectors.tag_page(
            request.user, tag, before=_query_id(request, "before"), limit=_query_limit(request, selectors.PAGE_SIZE)
        )
        return _page_response(request, page)


class UserPostsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="users_posts",
        summary="A person's posts",
        description="Top-level posts and reposts, newest first; `?replies=true` adds replies. Empty for a "
        "protected account you do not follow, or when a block stands.",
        parameters=[
            OpenApiParameter("handle", OpenApiTypes.STR, OpenApiParameter.PATH),
            _BEFORE,
            _LIMIT,
            OpenApiParameter("replies", OpenApiTypes.BOOL),
        ],
        responses={200: PAGE_SERIALIZER, **error_responses(400, 404)},
        tags=TAGS,
    )
    def get(self, request, handle: str):
        author = user_for_handle(handle)
        page = selectors.profile_posts(
            request.user,
            author,
            before=_query_id(request, "before"),
            replies=_query_bool(request, "replies"),
            limit=_query_limit(request, selectors.PAGE_SIZE),
        )
        return _page_response(request, page)


urlpatterns = [
    path("posts/", PostListView.as_view(), name="api-posts"),
    path("posts/<str:pk>/", PostDetailView.as_view(), name="api-post"),
    path("posts/<str:pk>/like/", LikeView.as_view(), name="api-post-like"),
    path("posts/<str:pk>/repost/", RepostView.as_view(), name="api-post-repost"),
    path("posts/<str:pk>/replies/", RepliesView.as_view(), name="api-post-replies"),
    path("timeline/", TimelineView.as_view(), name="api-timeline"),
    path("timeline/new-count/", TimelineNewCountView.as_view(), name="api-timeline-new-count"),
    path("explore/", ExploreView.as_view(), name="api-explore"),
    path("tags/<str:tag>/posts/", TagPostsView.as_view(), name="api-tag-posts"),
    path("users/<str:handle>/posts/", UserPostsView.as_view(), name="api-user-posts"),
]

__all__ = ["PostSerializer", "post_data", "urlpatterns"]
