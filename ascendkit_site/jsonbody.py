"""Reading a JSON request body with the API's limits and error shape."""

from django.conf import settings
from rest_framework import status

from . import fastjson
from .errors import ApiError


def read_json_object(request, *, content_types: tuple[str, ...] = ("application/json",)) -> dict:
    """The body as a JSON object, or an ApiError: 413, 415 or 400.

    The declared length was checked before the view ran (`KeyedApi.initial`); this
    checks what arrived, for a body sent without a length.
    """
    limit = settings.COLLECT_MAX_BODY_BYTES
    body = request.body
    if len(body) > limit:
        raise body_too_large()
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in content_types:
        raise ApiError(
            "unsupported_media_type",
            f"Send the body as {' or '.join(content_types)}.",
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        payload = fastjson.loads(body)
    except (ValueError, RecursionError):
        raise ApiError("malformed_json", "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError("invalid_request", "The body must be a JSON object.")
    return payload


def body_too_large() -> ApiError:
    limit = settings.COLLECT_MAX_BODY_BYTES
    return ApiError(
        "payload_too_large", f"The body is larger than {limit // 1024} KiB.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    )


def read_batch_items(body: dict) -> list:
    """A batch's `events`: 1 to 100 of them, else the whole request is refused."""
    items = body.get("events")
    if not isinstance(items, list) or not items:
        raise ApiError("invalid_request", "`events` must be a list of 1 to 100 items.")
    if len(items) > settings.COLLECT_MAX_ITEMS:
        raise ApiError(
            "too_many_items",
            f"A batch holds at most {settings.COLLECT_MAX_ITEMS} items.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return items
