"""The site's URLs plus compliance's API routes, for tests until everything/urls.py includes them."""

from django.urls import include, path

from everything.urls import urlpatterns as site_urlpatterns

urlpatterns = [
    path("api/v1/", include("compliance.api_urls")),
    *site_urlpatterns,
]
