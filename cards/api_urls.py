"""/api/v1/cards/... (the holder) and /api/v1/network/... (merchants) routes.

Mounted by everything/urls.py: ``path("", include("cards.api_urls"))`` in ``api_v1``.
"""

from django.urls import path

from . import api, network_api

urlpatterns = [
    path("cards/", api.CardListView.as_view(), name="api-cards"),
    path("cards/<int:pk>/freeze/", api.CardFreezeView.as_view(), name="api-card-freeze"),
    path("cards/<int:pk>/unfreeze/", api.CardUnfreezeView.as_view(), name="api-card-unfreeze"),
    path("cards/<int:pk>/limits/", api.CardLimitsView.as_view(), name="api-card-limits"),
    path("cards/<int:pk>/replace/", api.CardReplaceView.as_view(), name="api-card-replace"),
    path("cards/<int:pk>/reveal/", api.CardRevealView.as_view(), name="api-card-reveal"),
    path("cards/<int:pk>/authorizations/", api.CardAuthorizationListView.as_view(), name="api-card-authorizations"),
    path("network/authorizations/", network_api.AuthorizeView.as_view(), name="api-network-authorize"),
    path("network/authorizations/<int:pk>/capture/", network_api.CaptureView.as_view(), name="api-network-capture"),
    path("network/authorizations/<int:pk>/reverse/", network_api.ReverseView.as_view(), name="api-network-reverse"),
    path("network/authorizations/<int:pk>/refund/", network_api.RefundView.as_view(), name="api-network-refund"),
]
