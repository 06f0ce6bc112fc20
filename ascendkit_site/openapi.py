"""OpenAPI pieces every API shares: the key schemes and the one error shape."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

SECURITY_SCHEMES = {
    "envKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-AscendKit-Env-Key",
        "description": "The environment's public env key `env_…`.",
    },
    "userToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An end user's session token, from signup or login; sent with the env key.",
    },
    "secretKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The environment's secret key `sk_…`; for servers only.",
    },
}


class KeyAuthSchema(AutoSchema):
    """Declares the keys a view takes (its `auth_schemes`) as OpenAPI security.

    The views authenticate in code rather than with DRF authentication classes, so
    drf-spectacular cannot infer the schemes by itself.
    """

    def get_auth(self):
        # A view takes one set of keys (`auth_schemes`), or one of several
        # (`auth_alternatives`); within a set, every key is needed together.
        alternatives = getattr(self.view, "auth_alternatives", None) or (getattr(self.view, "auth_schemes", ()),)
        requirements = []
        for schemes in alternatives:
            for name in schemes:
                self.registry.register_on_missing(
                    ResolvedComponent(
                        name=name, type=ResolvedComponent.SECURITY_SCHEMA, object=name, schema=SECURITY_SCHEMES[name]
                    )
                )
            if schemes:
                requirements.append(dict.fromkeys(schemes, []))
        return requirements


class ErrorSerializer(serializers.Serializer):
    """The API's one error shape (SPEC 4), for the schema; the handler renders it."""

    class Detail(serializers.Serializer):
        code = serializers.CharField(help_text="A stable snake_case code, e.g. `invalid_credentials`.")
        message = serializers.CharField(help_text="A human sentence.")

        class Meta:
            ref_name = "ApiErrorDetail"

    error = Detail()

    class Meta:
        ref_name = "ApiError"


def error_responses(described: dict[int, str]) -> dict[int, OpenApiResponse]:
    """Error responses for `extend_schema`, each in the one error shape."""
    return {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in described.items()}


SECRET_KEY_ERRORS = {
    401: "The secret key is missing, unknown or rotated.",
    403: "A key of the wrong kind (`wrong_key_kind`) or an env key of another environment (`key_mismatch`).",
}

USER_PATH_PARAMETER = OpenApiParameter(
    "user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The user's `usr_…` ID."
)
