"""The base of the API's views that authenticate with keys in code."""

from django.conf import settings
from rest_framework import status
from rest_framework.views import APIView

from .errors import ApiError
from .openapi import KeyAuthSchema


class KeyedApi(APIView):
    """Declares its keys for the schema (`auth_schemes`) and enforces the body limit.

    Views that ignore the body refuse an oversized one all the same, so every
    endpoint keeps the one limit of SPEC 4.
    """

    schema = KeyAuthSchema()
    auth_schemes: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.COLLECT_MAX_BODY_BYTES:
            raise ApiError(
                "payload_too_large",
                f"The body is larger than {settings.COLLECT_MAX_BODY_BYTES // 1024} KiB.",
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
