"""``/@handle`` (name ``profile``, no namespace) and the profile's social sub-pages.

Included at the site root before ``accounts.profile_urls`` (follow/block buttons).
"""

from django.urls import path

from .views import profile

urlpatterns = [
    path("@<str:handle>", profile.profile, name="profile"),
]
