import pytest
from rest_framework.test import APIClient

from notifications.models import Notification
from notifications.services import notify

LIST = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_login(alice)
    return client


def make(user, count):
    return [notify(user, kind="payment.received", data={"sender": "@x", "amount": f"${i}"}) for i in range(count)]


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_list_is_own_notifications_newest_first(api, alice, bob):
    mine = make(alice, 3)
    make(bob, 2)
    body = api.get(LIST).json()
    assert [item["id"] for item in body["results"]] == [n.id for n in reversed(mine)]
    first = body["results"][0]
    assert set(first) == {"id", "kind", "title", "data", "url", "created_at", "read_at"}
    assert first["title"] == "@x sent you $2"
    assert first["read_at"] is None


def test_after_is_exclusive_ascending_and_cursor_paginated(api, alice, bob):
    mine = make(alice, 55)
    make(bob, 3)
    after = mine[1].id
    body = api.get(LIST, {"after": after}).json()
    ids = [item["id"] for item in body["results"]]
    assert len(ids) == 50
    assert body["next"]
    ids += [item["id"] for item in api.get(body["next"]).json()["results"]]
    assert ids == [n.id for n in mine[2:]]
    assert api.get(LIST, {"after": mine[-1].id}).json()["results"] == []
    assert len(api.get(LIST, {"after": 0}).json()["results"]) == 50


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "", "١٢", "9" * 25])
def test_bad_after_is_a_400_in_the_error_shape(api, bad):
    error = assert_error(api.get(LIST, {"after": bad}), 400, "invalid")
    assert "after" in error["fields"]


def test_anonymous_is_refused_in_the_error_shape(db):
    response = APIClient().get(LIST)
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code)
    response = APIClient().post(READ, {"all": True}, format="json")
    assert_error(response, response.status_code)


def test_list_query_count_is_bounded(api, alice, django_assert_max_num_queries):
    make(alice, 60)
    with django_assert_max_num_queries(4):
        body = api.get(LIST).json()
    assert len(body["results"]) == 50


def test_read_by_ids_leaves_other_peoples_notifications_alone(api, alice, bob):
    mine = make(alice, 3)
    theirs = make(bob, 1)[0]
    response = api.post(READ, {"ids": [mine[0].id, theirs.id]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"updated": 1, "unread_count": 2}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_up_to_id_and_all(api, alice):
    mine = make(alice, 4)
    assert api.post(READ, {"up_to_id": mine[1].id}, format="json").json() == {"updated": 2, "unread_count": 2}
    assert api.post(READ, {"all": True}, format="json").json() == {"updated": 2, "unread_count": 0}
    assert api.post(READ, {"all": True}, format="json").json() == {"updated": 0, "unread_count": 0}
    assert not Notification.objects.filter(read_at__isnull=True).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": ["x"]},
        {"ids": 5},
        {"up_to_id": -1},
        {"all": False},
        {"all": True, "ids": [1]},
        {"ids": [1], "up_to_id": 3},
        {"ids": list(range(1, 502))},
        {"ids": [10**20]},
        {"up_to_id": 2**63},
    ],
)
def test_bad_read_body_is_a_400_and_changes_nothing(api, alice, body):
    make(alice, 1)
    assert_error(api.post(READ, body, format="json"), 400, "invalid")
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_schema_documents_the_endpoints(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/notifications/" in paths
    assert "after" in {p["name"] for p in paths["/api/v1/notifications/"]["get"]["parameters"]}
    assert "post" in paths["/api/v1/notifications/read/"]


@pytest.mark.parametrize("position", ["abc", "1e5", "-1" * 30])
def test_a_forged_cursor_is_a_404_not_a_500(api, alice, position):
    import base64
    from urllib.parse import urlencode

    make(alice, 3)
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    assert_error(api.get(LIST, {"cursor": cursor}), 404, "not_found")
