from django.urls import path

from notifications.consumers import UserConsumer

websocket_urlpatterns = [
    path("ws/", UserConsumer.as_asgi()),
]
