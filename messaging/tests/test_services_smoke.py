import pytest

from accounts.models import Follow
from accounts.tests.factories import UserFactory
from messaging import selectors, services
from messaging.models import Membership


@pytest.mark.django_db
def test_direct_conversation_post_read_and_unread(django_assert_max_num_queries):
    a, b, c = UserFactory(handle="ann"), UserFactory(handle="ben"), UserFactory(handle="cat")
    Follow.objects.create(follower=b, followee=a)
    conv = services.conversation_direct_open(a, other="@ben")
    assert services.conversation_direct_open(b, other=a).pk == conv.pk
    services.message_post(a, conversation=conv, body="hello <b>ben</b>")
    m2 = services.message_post(a, conversation=conv.pk, body="second")
    rows = list(selectors.inbox_memberships(b))
    assert [r.conversation_id for r in rows] == [conv.pk] and rows[0].unread == 2
    assert selectors.unread_conversations_count(b) == 1
    services.conversation_mark_read(b, conversation=conv)
    assert selectors.unread_conversations_count(b) == 0
    assert Membership.objects.get(user=b).last_read_message_id == m2.pk
    with pytest.raises(services.ConversationNotFound):
        services.message_post(c, conversation=conv, body="hi")
    g = services.conversation_group_create(a, name="Trip", members=["@ben", c])
    services.message_post(b, conversation=g, body="yo")
    with django_assert_max_num_queries(6):
        rows = list(selectors.inbox_memberships(a))
        [r.conversation.active_memberships for r in rows]
    assert rows[0].conversation_id == g.pk
    # cat doesn't follow ann: the group sits in cat's Requests folder
    assert [r.conversation_id for r in selectors.inbox_memberships(c, folder="requests")] == [g.pk]
