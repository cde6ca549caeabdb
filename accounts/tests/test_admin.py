"""The user admin: search, filters, the verified column and the add form."""

import pytest
from django.contrib.auth import get_user_model

from accounts.tests.factories import UserFactory

User = get_user_model()
CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def admin_client(client, db):
    boss = User.objects.create_superuser(handle="boss", email="boss@example.com", password="pw-Boss-123")
    client.force_login(boss)
    return client


@pytest.fixture
def people(db):
    return {
        "alice": UserFactory(handle="alice", email="alice@wonder.land", verified=True),
        "bob": UserFactory(handle="bob", email="bob@builder.example", unverified_email=True),
    }


def _handles(response) -> set[str]:
    return {user.handle for user in response.context["cl"].result_list}


def test_search_by_handle(admin_client, people):
    response = admin_client.get(CHANGELIST, {"q": "alice"})
    assert response.status_code == 200
    assert _handles(response) == {"alice"}


def test_search_by_email(admin_client, people):
    response = admin_client.get(CHANGELIST, {"q": "builder.example"})
    assert response.status_code == 200
    assert _handles(response) == {"bob"}


def test_filters_and_verified_column(admin_client, people, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    for title in ("By date joined", "By staff status", "By active", "By verified"):
        assert title.lower() in html.lower()
    verified = {user.handle: user.has_verified_email for user in response.context["cl"].result_list}
    assert verified == {"alice": True, "bob": False, "boss": False}

    response = admin_client.get(CHANGELIST, {"emailaddress__verified__exact": "1"})
    assert _handles(response) == {"alice"}
    response = admin_client.get(CHANGELIST, {"is_staff__exact": "1"})
    assert _handles(response) == {"boss"}


def test_change_page_renders(admin_client, people):
    response = admin_client.get(f"{CHANGELIST}{people['alice'].pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("display_name", "avatar", "bio", "home_currency", "country", "state", "time_zone"):
        assert f'name="{field}"' in html


def test_add_user_with_handle_email_and_password(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 200
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "handle": "Newcomer",
            "email": "newcomer@example.com",
            "usable_password": "true",
            "password1": "pw-Everything-1",
            "password2": "pw-Everything-1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(handle="newcomer")
    assert user.email == "newcomer@example.com"
    assert user.check_password("pw-Everything-1")


def test_add_user_refuses_a_taken_handle_in_any_case(admin_client, people):
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "handle": "ALICE",
            "email": "x@example.com",
            "usable_password": "true",
            "password1": "pw-Everything-1",
            "password2": "pw-Everything-1",
        },
    )
    assert response.status_code == 200
    assert "handle" in response.context["adminform"].form.errors


def test_non_staff_cannot_open_the_admin(client, people):
    client.force_login(people["alice"])
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response.url
