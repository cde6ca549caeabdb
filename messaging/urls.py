"""/messages/... (namespace ``messaging``): the pages, search, attachment downloads, and the
money-in-thread (``views_money``) and report (``reports``) views, which keep their own ``urlpatterns``."""

from django.urls import path

from . import reports, views, views_money
from .attachments import attachment_download
from .search import search_page

app_name = "messaging"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("unread/", views.unread, name="unread"),
    path("with/<str:handle>/", views.start, name="start"),
    path("new-group/", views.group_new, name="group_new"),
    path("search/", search_page, name="search"),
    path("attachments/<int:pk>/", attachment_download, name="attachment"),
    path("<int:pk>/", views.conversation, name="conversation"),
    path("<int:pk>/messages/", views.fragment, name="fragment"),
    path("<int:pk>/receipts/", views.receipts, name="receipts"),
    path("<int:pk>/post/", views.post, name="post"),
    path("<int:pk>/read/", views.read, name="read"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/leave/", views.leave, name="leave"),
    path("<int:pk>/mute/", views.mute, name="mute"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/members/add/", views.members_add, name="members_add"),
    path("<int:pk>/members/remove/", views.member_remove, name="member_remove"),
    path("<int:pk>/m/<int:message_id>/edit/", views.edit, name="edit"),
    path("<int:pk>/m/<int:message_id>/delete/", views.delete, name="delete"),
    path("<int:pk>/m/<int:message_id>/react/", views.react, name="react"),
    *views_money.urlpatterns,
    *reports.urlpatterns,
]
