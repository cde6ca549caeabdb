import pytest


@pytest.mark.django_db
def test_an_oversized_body_is_refused_before_it_is_read(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    big = "x" * 2048
    page = client.post("/accounts/login/", {"login": big, "password": "x"})
    assert page.status_code == 413
    assert b"the limit is" in page.content
    api = client.post("/api/v1/notifications/read/", {"all": big}, content_type="application/json")
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "request_too_large"


@pytest.mark.django_db
def test_normal_bodies_pass(client):
    assert client.post("/accounts/login/", {"login": "nobody", "password": "x"}).status_code == 200
