from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.views import healthz
from everything.views import home
from payments.views.requests import tip_page

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("payments.api_urls")),
    path("", include("compliance.api_urls")),
    path("", include("messaging.api_urls")),
    path("", include("social.api_urls")),
    path("", include("lending.api_urls")),
    path("", include("savings.api_urls")),
    path("", include("cards.api_urls")),  # /api/v1/cards/... and the merchant-facing /api/v1/network/...
    path("", include("commerce.api_urls")),
]

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),  # load balancers and monitors: no auth (docs/operations.md)
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("settings/", include("accounts.urls")),
    path("notifications/", include("notifications.urls")),
    path("wallet/", include("payments.urls")),
    path("savings/", include("savings.urls")),
    path("loans/", include("lending.urls")),
    path("cards/", include("cards.urls")),
    path("shop/", include("commerce.urls")),
    path("compliance/", include("compliance.urls")),
    path("messages/", include("messaging.urls")),
    path("@<str:handle>/tip", tip_page, name="tip"),
    path("", include("social.profile_urls")),  # /@handle (name "profile") with its posts
    path("", include("accounts.profile_urls")),  # the profile's follow/block buttons
    path("", include("social.urls")),  # posts, timeline pages, creators, subscriptions
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

# Under /api/ a 404 is the API's JSON error body, like every other API error (core.api).
handler404 = "core.api.handler404"
# The database out of reach is 503 + Retry-After, not 500; /api/ answers JSON (core.views).
handler500 = "core.views.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
