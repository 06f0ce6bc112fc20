"""One error shape for the whole API: {"error": {"code", "message"}}."""

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

RETRY_AFTER_SECONDS = 5


class ApplicationError(Exception):
    """A domain error raised by services and selectors: a `code` and a human message.

    Services know nothing of HTTP; `api_exception_handler` turns the code into a
    status with `STATUS_BY_CODE` (400 for a code it does not list).
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


STATUS_BY_CODE = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "email_taken": status.HTTP_409_CONFLICT,
    "invalid_credentials": status.HTTP_401_UNAUTHORIZED,
    "waitlisted": status.HTTP_403_FORBIDDEN,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
}


class ApiError(exceptions.APIException):
    """An error answered to the client as-is, with its own code and status."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST, headers=None):
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.headers = headers or {}


class ServiceUnavailable(ApiError):
    def __init__(self, message="The service is temporarily unavailable; retry later."):
        super().__init__(
            "service_unavailable",
            message,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


_DRF_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "missing_key",
    exceptions.AuthenticationFailed: "invalid_key",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_request",
}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()), ("", ""))
        message = _first_message(value)
        return f"{field}: {message}" if field and field != "non_field_errors" else message
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid request."
    return str(detail)


def known_error(exc) -> tuple[int, dict, dict] | None:
    """(status, body, headers) for the errors this project raises, and database outages."""
    if isinstance(exc, ApiError):
        return exc.status_code, error_body(exc.code, exc.message), exc.headers
    if isinstance(exc, ApplicationError):
        return STATUS_BY_CODE.get(exc.code, status.HTTP_400_BAD_REQUEST), error_body(exc.code, exc.message), {}
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable: the client keeps its items and retries.
        unavailable = ServiceUnavailable()
        return 503, error_body(unavailable.code, unavailable.message), unavailable.headers
    return None


def api_exception_handler(exc, context):
    """DRF's handler, reshaped; database outages become 503 with Retry-After."""
    known = known_error(exc)
    if known is not None:
        status_code, body, headers = known
        return Response(body, status=status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), "error")
    response.data = error_body(code, _first_message(exc.detail))
    return response
