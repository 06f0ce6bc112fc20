"""One error shape under `/v1/`, also for the errors Django answers before any view."""

from django.http import JsonResponse

API_PREFIX = "/v1/"

# Django's own answers that reach this middleware as HTML: an unknown route, a Host
# not in ALLOWED_HOSTS (or another SuspiciousOperation), a method a plain view does
# not take, and a server error.
CODE_BY_STATUS = {
    400: ("bad_request", "The request is malformed or its Host header is not served here."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "There is no such API route."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    413: ("payload_too_large", "The body is too large."),
    500: ("server_error", "The server failed to answer; retry later."),
}


class ApiErrorShapeMiddleware:
    """Rewrites a non-JSON error answer under `/v1/` into `{"error": {"code", "message"}}`.

    The API's views answer JSON themselves; this catches what Django answers first.
    Put it first in MIDDLEWARE so it also sees the answers of the other middleware
    (CommonMiddleware refuses a disallowed Host).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not request.path.startswith(API_PREFIX):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code, message = CODE_BY_STATUS.get(response.status_code, ("error", "The request failed."))
        shaped = JsonResponse({"error": {"code": code, "message": message}}, status=response.status_code)
        for header in ("Retry-After", "Allow", "Vary", "Access-Control-Allow-Origin"):
            if header in response:
                shaped[header] = response[header]
        return shaped
