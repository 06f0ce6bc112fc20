"""The base of the API's views that authenticate with keys in code."""

from django.conf import settings
from rest_framework.views import APIView

from .jsonbody import body_too_large, read_json_object
from .openapi import KeyAuthSchema


def check_declared_length(request) -> None:
    """The one check of the declared body length, before anything reads the body."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not (length.isascii() and length.isdigit()) or int(length) > settings.COLLECT_MAX_BODY_BYTES:
        raise body_too_large()


class KeyedApi(APIView):
    """Declares its keys for the schema (`auth_schemes`) and enforces the body limit.

    Views that ignore the body refuse an oversized one all the same, so every
    endpoint keeps the one limit of SPEC 4.
    """

    schema = KeyAuthSchema()
    auth_schemes: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        check_declared_length(request)

    def input(self, request) -> dict:
        """The JSON object body, validated by the view's InputSerializer."""
        serializer = self.InputSerializer(data=read_json_object(request))
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class SecretKeyApi(KeyedApi):
    """A server API: the secret key (`identity.auth.authenticate_secret_key`)."""

    auth_schemes = ("secretKey",)
