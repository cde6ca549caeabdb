from django.urls import path

from . import views

app_name = "lending"

urlpatterns = [
    path("", views.home, name="home"),
    path("disclosure/", views.disclosure, name="disclosure"),
    path("accept/", views.accept, name="accept"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/repay/confirm/", views.repay_confirm, name="repay_confirm"),
    path("<int:pk>/repay/", views.repay, name="repay"),
]
