import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unknown_page_gets_the_sites_own_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We can't find that page" in response.content


# handler500 (core.views.server_error): the database out of reach is a 503 the client may retry.


def _failing_client(client, user, monkeypatch, target, exc):
    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(target, boom)
    client.raise_request_exception = False
    client.force_login(user)
    return client


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_the_database_out_of_reach_is_a_503_with_retry_after(client, monkeypatch, django_user_model):
    from django.db import OperationalError

    user = django_user_model.objects.create_user(handle="pat", email="pat@example.com", password="x" * 12)
    _failing_client(
        client, user, monkeypatch, "accounts.views.ProfileForm.__init__", OperationalError("connection refused")
    )
    response = client.get("/settings/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Nothing was changed" in response.content


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_the_api_answers_json_for_503_and_500(client, monkeypatch, django_user_model):
    from django.db import OperationalError

    user = django_user_model.objects.create_user(handle="pat", email="pat@example.com", password="x" * 12)
    _failing_client(client, user, monkeypatch, "accounts.api.MeView.get", OperationalError("pool timeout"))
    response = client.get("/api/v1/me/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"

    _failing_client(client, user, monkeypatch, "accounts.api.MeView.get", RuntimeError("a bug"))
    response = client.get("/api/v1/me/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert response.json()["error"]["code"] == "server_error"
    assert "a bug" not in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_bug_on_a_page_is_the_sites_500(client, monkeypatch, django_user_model):
    user = django_user_model.objects.create_user(handle="pat", email="pat@example.com", password="x" * 12)
    _failing_client(client, user, monkeypatch, "accounts.views.ProfileForm.__init__", RuntimeError("a bug"))
    response = client.get("/settings/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
