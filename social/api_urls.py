"""Social API under /api/v1/: each module of ``social.api`` owns its routes."""

from .api import creators, moderation, posts, subscriptions

urlpatterns = posts.urlpatterns + creators.urlpatterns + subscriptions.urlpatterns + moderation.urlpatterns
