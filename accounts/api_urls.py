from django.urls import path

from .api import BlockView, FollowView, MeView, MyBlockedView, UserProfileView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("me/blocked/", MyBlockedView.as_view(), name="api-me-blocked"),
    path("users/<str:handle>/", UserProfileView.as_view(), name="api-user"),
    path("users/<str:handle>/follow/", FollowView.as_view(), name="api-user-follow"),
    path("users/<str:handle>/block/", BlockView.as_view(), name="api-user-block"),
]
