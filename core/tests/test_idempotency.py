import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, HttpResponseRedirect
from django.template import engines
from django.test import RequestFactory
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from core.idempotency import idempotent
from core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user(handle="idem_user", email="idem@example.com", password="pw-123456")


@pytest.fixture
def calls():
    return []


@pytest.fixture
def form_view(calls):
    @idempotent
    def view(request):
        calls.append(request.POST.get("amount"))
        if request.POST.get("amount") == "bad":
            return HttpResponse("please fix", status=400)
        return HttpResponseRedirect(f"/done/{len(calls)}/")

    return view


def post(user, key, **data):
    request = RequestFactory().post("/pay/", {"idempotency_key": key, **data})
    request.user = user
    return request


def test_double_submit_runs_once_and_replays_the_redirect(user, form_view, calls):
    first = form_view(post(user, "k1", amount="5"))
    second = form_view(post(user, "k1", amount="5"))
    assert calls == ["5"]
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"] == "/done/1/"
    assert second["Idempotent-Replayed"] == "true"


def test_same_key_different_request_is_refused(user, form_view, calls):
    form_view(post(user, "k2", amount="5"))
    response = form_view(post(user, "k2", amount="6"))
    assert response.status_code == 422
    assert b"idempotency_key_reused" in response.content
    assert calls == ["5"]


def test_failed_request_releases_the_key(user, form_view, calls):
    assert form_view(post(user, "k3", amount="bad")).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert form_view(post(user, "k3", amount="5")).status_code == 302
    assert calls == ["bad", "5"]


def test_exception_releases_the_key(user):
    @idempotent
    def boom(request):
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        boom(post(user, "k4"))
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_per_user(user, form_view, calls):
    other = get_user_model().objects.create_user(handle="idem_other", email="o@example.com", password="pw-123456")
    form_view(post(user, "same", amount="5"))
    form_view(post(other, "same", amount="5"))
    assert calls == ["5", "5"]


def test_in_progress_request_gets_409_with_retry_after(user):
    record = IdempotencyRecord.objects.create(user=user, key="k5", method="POST", path="/pay/", request_hash="x")

    @idempotent
    def view(request):
        return HttpResponse("ok")

    request = post(user, "k5")
    from core.idempotency import request_fingerprint

    IdempotencyRecord.objects.filter(pk=record.pk).update(request_hash=request_fingerprint(request))
    response = view(request)
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert b"request_in_progress" in response.content


def test_no_key_runs_normally_unless_required(user, calls):
    @idempotent(required=True)
    def strict(request):
        calls.append(1)
        return HttpResponse("ok")

    request = RequestFactory().post("/pay/", {"amount": "1"})
    request.user = user
    response = strict(request)
    assert response.status_code == 400 and b"idempotency_key_missing" in response.content
    assert calls == []


def test_anonymous_requests_pass_through_to_the_views_login_check(calls, form_view):
    request = RequestFactory().post("/pay/", {"idempotency_key": "k", "amount": "1"})
    request.user = AnonymousUser()
    form_view(request)
    assert calls == ["1"]


def test_api_view_with_header_replays_json(user):
    counter = []

    class PayView(APIView):
        @idempotent(required=True)
        def post(self, request):
            counter.append(request.data["amount"])
            return Response({"paid": request.data["amount"], "n": len(counter)}, status=201)

    factory = APIRequestFactory()

    def call(amount, key="api-1"):
        request = factory.post("/api/pay/", {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY=key)
        force_authenticate(request, user=user)
        response = PayView.as_view()(request)
        if hasattr(response, "render"):
            response.render()
        return response

    first, second = call("5"), call("5")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert counter == ["5"]
    assert call("6").status_code == 422


def test_form_field_tag_mints_a_fresh_key():
    template = engines["django"].from_string("{% load idempotency %}{% idempotency_field %}")
    one, two = template.render({}), template.render({})
    assert 'name="idempotency_key"' in one and one != two


def test_a_malformed_key_is_a_clear_400_not_a_500(user, form_view, calls):
    response = form_view(post(user, "k" * 201, amount="5"))
    assert response.status_code == 400
    assert b"invalid_idempotency_key" in response.content
    assert calls == []


def test_an_abandoned_in_progress_record_does_not_block_forever(user, form_view, calls):
    from datetime import timedelta

    from django.utils import timezone

    from core.idempotency import request_fingerprint

    request = post(user, "k6", amount="5")
    IdempotencyRecord.objects.create(
        user=user, key="k6", method="POST", path="/pay/", request_hash=request_fingerprint(request)
    )
    IdempotencyRecord.objects.filter(key="k6").update(created_at=timezone.now() - timedelta(minutes=10))
    assert form_view(request).status_code == 302
    assert calls == ["5"]


def test_a_path_with_a_nul_byte_is_recorded_not_a_500(user, form_view, calls):
    """PostgreSQL text columns refuse NUL: a hostile path must not break the record (it is only kept)."""
    request = RequestFactory().post("/pay/%00/", {"idempotency_key": "k-nul", "amount": "5"})
    request.user = user
    assert form_view(request).status_code == 302
    assert "\x00" not in IdempotencyRecord.objects.get(key="k-nul").path
