"""The public profile at ``/@handle`` and its buttons (included at the site root, no namespace).

``everything/urls.py`` includes this after ``@<handle>/tip`` (the wallet's tip page).
Handles are at most 15 characters of [a-z0-9_], so no handle clashes with these suffixes.
"""

from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("@<str:handle>/", RedirectView.as_view(pattern_name="profile", permanent=True)),
    path("@<str:handle>/follow", views.follow, name="profile_follow"),
    path("@<str:handle>/unfollow", views.unfollow, name="profile_unfollow"),
    path("@<str:handle>/block", views.block, name="profile_block"),
    path("@<str:handle>/followers", views.followers, name="profile_followers"),
    path("@<str:handle>/following", views.following, name="profile_following"),
    path("@<str:handle>/unblock", views.unblock, name="profile_unblock"),
]
