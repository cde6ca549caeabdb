from django.urls import path

from .api import (
    BlockView,
    FollowersView,
    FollowingView,
    FollowRequestApproveView,
    FollowRequestDeclineView,
    FollowView,
    MeView,
    MyBlockedView,
    MyFollowRequestsView,
    UserProfileView,
)

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("me/blocked/", MyBlockedView.as_view(), name="api-me-blocked"),
    path("me/follow-requests/", MyFollowRequestsView.as_view(), name="api-me-follow-requests"),
    path(
        "me/follow-requests/<str:handle>/approve/",
        FollowRequestApproveView.as_view(),
        name="api-me-follow-request-approve",
    ),
    path(
        "me/follow-requests/<str:handle>/decline/",
        FollowRequestDeclineView.as_view(),
        name="api-me-follow-request-decline",
    ),
    path("users/<str:handle>/", UserProfileView.as_view(), name="api-user"),
    path("users/<str:handle>/follow/", FollowView.as_view(), name="api-user-follow"),
    path("users/<str:handle>/block/", BlockView.as_view(), name="api-user-block"),
    path("users/<str:handle>/followers/", FollowersView.as_view(), name="api-user-followers"),
    path("users/<str:handle>/following/", FollowingView.as_view(), name="api-user-following"),
]
