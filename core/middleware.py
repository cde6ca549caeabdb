import uuid

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from .logging import request_id_is_valid, request_id_var


class RequestSizeLimitMiddleware:
    """Refuse a request body larger than MAX_REQUEST_BODY_BYTES before Django reads it.

    Django caps form fields in memory but streams file parts to disk whatever their
    size; without this a signed-in user could fill the disk with one upload.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BODY_BYTES
        if length > limit:
            message = f"That upload is too large: the limit is {limit // (1024 * 1024)} MB."
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "request_too_large", "message": message, "fields": {}}}, status=413
                )
            return render(request, "413.html", {"message": message}, status=413)
        return self.get_response(request)


class RequestIdMiddleware:
    """Give every request an id: the client's ``X-Request-ID`` when it is ``[A-Za-z0-9-]{1,64}``,
    else a new UUID. It is echoed in the response's ``X-Request-ID``, kept on
    ``request.request_id``, and put in every log record of the request (core.logging).
    First in MIDDLEWARE so that everything after it logs with the id.
    """

    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get(self.header)
        if not request_id_is_valid(request_id):
            request_id = str(uuid.uuid4())
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[self.header] = request_id
        return response
