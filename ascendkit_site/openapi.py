"""OpenAPI pieces every API shares: the key schemes and the one error shape."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from . import ids

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


# Schema-only field types: the value is checked by a service, which answers its own
# error code, so the serializer must not refuse it first; the schema still says what
# a valid value is.


@extend_schema_field({"type": "string", "format": "email"})
class EmailText(serializers.CharField):
    """An email address, checked by the service (`invalid_email`)."""


@extend_schema_field({"type": "string", "pattern": f"^{ids.VISITOR_ID_RE.pattern}$"})
class VisitorIdText(serializers.CharField):
    """A `vis_` ID, checked by the service (`invalid_visitor_id`)."""


@extend_schema_field({"type": "string", "minLength": 8})
class NewPasswordText(serializers.CharField):
    """A new password of at least 8 characters, checked by the service (`weak_password`)."""


class Lenient(serializers.JSONField):
    """A value documented by `shape`'s fields, yet any JSON value in the schema.

    For what the server judges leniently: each batch item on its own (SPEC 4), even
    one that is not an object, is a rejected item in a 2xx answer, never a refused
    batch; a collect `context` of the wrong type is ignored. The schema must not
    type such a value, so the fields are listed in the description instead.
    """

    def __init__(self, shape: type[serializers.Serializer], *, summary: str, **kwargs):
        fields = shape().fields
        described = "; ".join(f"`{name}`: {(field.help_text or '').rstrip('.')}" for name, field in fields.items())
        kwargs.setdefault("help_text", f"{summary} Its fields: {described}.")
        super().__init__(**kwargs)


def BatchItem(item: type[serializers.Serializer]) -> Lenient:  # noqa: N802 - reads as a field class
    return Lenient(item, summary="An item, judged on its own.")
