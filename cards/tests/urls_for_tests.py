"""The project's URLs plus the cards routes, for the cards web tests until everything/urls.py mounts them.

Once the lead wires ``path("cards/", include("cards.urls"))`` and ``path("", include("cards.api_urls"))``
into everything/urls.py, this falls back to the project's own urlconf unchanged.
"""

from django.urls import include, path, resolve
from django.urls.exceptions import Resolver404

from everything.urls import urlpatterns as project_urlpatterns


def _mounted(url: str) -> bool:
    try:
        resolve(url, urlconf="everything.urls")
    except Resolver404:
        return False
    return True


urlpatterns = list(project_urlpatterns)
if not _mounted("/cards/"):
    urlpatterns.insert(0, path("cards/", include("cards.urls")))
if not _mounted("/api/v1/cards/"):
    urlpatterns.insert(0, path("api/v1/", include("cards.api_urls")))
