import pytest
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core.errors import Conflict, NotPermitted, Unprocessable


class Input(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)


class Boom(APIView):
    permission_classes = [AllowAny]
    error = None

    def post(self, request):
        if self.error:
            raise self.error
        Input(data=request.data).is_valid(raise_exception=True)
        return None


def call(error=None, data=None):
    request = APIRequestFactory().post("/x/", data or {}, format="json")
    response = Boom.as_view(error=error)(request)
    response.render()
    return response


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Unprocessable("Not enough money.", code="insufficient_funds"), 422, "insufficient_funds"),
        (Conflict(), 409, "conflict"),
        (NotPermitted(), 403, "forbidden"),
    ],
)
def test_domain_errors_have_the_error_shape(error, status, code):
    response = call(error)
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"] == error.message
    assert response.data["error"]["fields"] == {}


def test_validation_errors_have_the_error_shape_with_fields():
    response = call(data={"amount": -1})
    assert response.status_code == 400
    body = response.data["error"]
    assert body["code"] == "invalid"
    assert "amount" in body["fields"]


def test_not_authenticated_has_the_error_shape(client):
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"
