from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


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
