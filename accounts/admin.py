"""The user admin (find people by handle or email, see who verified their address) and the
social graph's follows and blocks, which staff may look through but not make or edit."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Exists, OuterRef
from django.utils.html import format_html

from .models import Block, Follow, User


class HandleField(forms.CharField):
    """Handles are case-insensitive: lowercase what staff type before the rules run."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().lower() if value else value


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("handle", "email")
        field_classes = {"handle": HandleField}

    def clean_handle(self):
        handle = (self.cleaned_data.get("handle") or "").strip().lower()
        if handle and User.objects.filter(handle__iexact=handle).exists():
            raise self.instance.unique_error_message(User, ["handle"])
        return handle


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"handle": HandleField}


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    extra = 0
    fields = ("email", "verified", "primary")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    inlines = [EmailAddressInline]

    list_display = ("handle", "email", "display_name", "date_joined", "is_staff", "verified")
    list_display_links = ("handle", "email")
    list_filter = ("date_joined", "is_staff", "is_active", "emailaddress__verified", "country")
    search_fields = ("handle", "email", "display_name")
    ordering = ("-date_joined",)
    date_hierarchy = "date_joined"
    readonly_fields = ("last_login", "date_joined", "avatar_preview")

    fieldsets = (
        (None, {"fields": ("handle", "email", "password")}),
        ("Profile", {"fields": ("display_name", "avatar_preview", "avatar", "bio")}),
        (
            "Region and preferences",
            {"fields": ("home_currency", "country", "state", "time_zone", "message_policy")},
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("handle", "email", "usable_password", "password1", "password2"),
            },
        ),
    )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        verified = EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)
        return super().get_queryset(request).annotate(has_verified_email=Exists(verified))

    @admin.display(boolean=True, description="Verified", ordering="has_verified_email")
    def verified(self, user: User) -> bool:
        return user.has_verified_email

    @admin.display(description="Avatar")
    def avatar_preview(self, user: User):
        if user.avatar:
            return format_html('<img src="{}" width="64" height="64" style="border-radius:50%">', user.avatar.url)
        return format_html(
            '<span style="display:inline-grid;place-items:center;width:64px;height:64px;border-radius:50%;'
            'background:{};color:#fff;font-weight:600">{}</span>',
            user.avatar_colour,
            user.initials,
        )


class _SocialGraphAdmin(admin.ModelAdmin):
    """Read-only-ish: staff search and look; follows and blocks are made by the people themselves
    (``accounts.social``), so nothing is added or edited here, and a block is never lifted here
    (that would skip the ``user_unblocked`` signal)."""

    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Follow)
class FollowAdmin(_SocialGraphAdmin):
    list_display = ("follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    search_fields = ("follower__handle", "followee__handle", "follower__email", "followee__email")
    readonly_fields = ("follower", "followee", "created_at")
    ordering = ("-created_at", "-id")


@admin.register(Block)
class BlockAdmin(_SocialGraphAdmin):
    list_display = ("blocker", "blocked", "created_at")
    list_select_related = ("blocker", "blocked")
    search_fields = ("blocker__handle", "blocked__handle", "blocker__email", "blocked__email")
    readonly_fields = ("blocker", "blocked", "created_at")
    ordering = ("-created_at", "-id")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
