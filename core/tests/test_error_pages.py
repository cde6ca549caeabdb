import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unknown_page_gets_the_sites_own_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We can't find that page" in response.content
