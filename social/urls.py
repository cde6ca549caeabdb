"""Social pages (namespace ``social``), one list per area; each view module owns its routes."""

from .views import creators, moderation, posts, subscriptions

app_name = "social"

urlpatterns = posts.urlpatterns + creators.urlpatterns + subscriptions.urlpatterns + moderation.urlpatterns
