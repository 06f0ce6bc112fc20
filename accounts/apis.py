"""End users' API (SPEC 4.3): signup, login, logout, me, waitlist approval, identify.

Each view authenticates with `identity.auth`, validates with its InputSerializer,
calls one service and answers with its OutputSerializer. Services raise
ApplicationErrors; `ascendkit_site.errors.api_exception_handler` answers them in
the SPEC's shape.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from analytics.enrichment.client_ip import client_ip
from ascendkit_site import ids
from ascendkit_site.api import KeyedApi, SecretKeyApi
from ascendkit_site.cors import CorsMixin
from ascendkit_site.openapi import SECRET_KEY_ERRORS, EmailText, NewPasswordText, VisitorIdText, error_responses
from identity.auth import authenticate_env_key, authenticate_secret_key, authenticate_user_token
from identity.models import EndUser
from identity.selectors import end_user_get_or_404

from .services import InvalidCredentials, user_approve, user_identify, user_login, user_logout, user_signup
from .throttling import LoginThrottle

# --- OpenAPI: the keys, the error shape, a user -----------------------------------------


# Inline rather than a ChoiceField: spectacular would name the enum component after
# the field, and `status` fields of other APIs would collide with it.
@extend_schema_field({"type": "string", "enum": EndUser.Status.values})
class UserStatusField(serializers.CharField):
    pass


class UserSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="`usr_…`")
    email = serializers.EmailField()
    name = serializers.CharField()
    status = UserStatusField(help_text="`waitlisted` until approved, when the environment has a waitlist.")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        ref_name = "User"


@extend_schema_field({"type": "string", "nullable": True, "example": "vis_0Q2xAbCdEfGhIjKlMnOp"})
class VisitorIdField(serializers.Field):
    """The browser's `vis_` ID. Anything malformed is ignored rather than refused:
    the account call matters more than the link."""

    def to_internal_value(self, data):
        return data if ids.is_visitor_id(data) else None

    def to_representation(self, value):
        return value


BAD_BODY = "Malformed JSON (`malformed_json`), or a missing or invalid field (`invalid_request`)."
TOO_LARGE = "The body is larger than 512 KiB (`payload_too_large`)."
NOT_JSON = "The body is not `application/json` (`unsupported_media_type`)."
BAD_ENV_KEY = "The env key is missing or unknown."
WRONG_KEY = (
    "A key of the wrong kind (`wrong_key_kind`), or an origin the environment does not allow (`origin_not_allowed`)."
)
TOKEN_ERRORS = {
    401: "The env key or session token is missing or unknown, or the token is expired, revoked, "
    "or of another environment.",
    403: WRONG_KEY,
}


# --- Views ----------------------------------------------------------------------------


class IdentityApi(CorsMixin, KeyedApi):
    """The browser-facing views below: CORS on every answer."""


class SignupApi(IdentityApi):
    auth_schemes = ("envKey",)

    class InputSerializer(serializers.Serializer):
        email = EmailText()
        password = NewPasswordText(trim_whitespace=False, help_text="At least 8 characters, not a common one.")
        name = serializers.CharField(required=False, allow_blank=True, default="", help_text="Cut to 200 characters.")
        visitorId = VisitorIdField(required=False, allow_null=True, default=None)

        class Meta:
            ref_name = "Signup"

    class OutputSerializer(serializers.Serializer):
        user = UserSerializer()
        token = serializers.CharField(
            allow_null=True, help_text="The session token; null while the user is on the waitlist."
        )

        class Meta:
            ref_name = "SignupResult"

    @extend_schema(
        summary="Sign an end user up",
        description="Makes the user and, unless the environment has a waitlist, a session token. "
        "Records `user.created`, and `user.waitlisted` when the user waits for approval. "
        "A valid `visitorId` links that visitor's history to the user.",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            **error_responses(
                {
                    400: BAD_BODY + " An invalid email (`invalid_email`) or a weak password (`weak_password`).",
                    401: BAD_ENV_KEY,
                    403: WRONG_KEY,
                    409: "The email is taken in this environment, in any letter case (`email_taken`).",
                    413: TOO_LARGE,
                    415: NOT_JSON,
                }
            ),
        },
    )
    def post(self, request):
        environment = authenticate_env_key(request)
        data = self.input(request)
        user, token = user_signup(
            environment=environment,
            email=data["email"],
            password=data["password"],
            name=data["name"],
            visitor_id=data["visitorId"],
        )
        return Response(self.OutputSerializer({"user": user, "token": token}).data, status=status.HTTP_201_CREATED)


class LoginApi(IdentityApi):
    auth_schemes = ("envKey",)

    class InputSerializer(serializers.Serializer):
        email = EmailText()
        password = serializers.CharField(trim_whitespace=False)
        visitorId = VisitorIdField(required=False, allow_null=True, default=None)

        class Meta:
            ref_name = "Login"

    class OutputSerializer(serializers.Serializer):
        user = UserSerializer()
        token = serializers.CharField(help_text="The session token, sent as `Authorization: Bearer …`.")

        class Meta:
            ref_name = "LoginResult"

    @extend_schema(
        summary="Log an end user in",
        description="Checks the password and issues a session token; records `user.login`. "
        "Repeated failures for one email or from one address are throttled.",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            **error_responses(
                {
                    400: BAD_BODY,
                    401: "The email or password is incorrect (`invalid_credentials`); or " + BAD_ENV_KEY.lower(),
                    403: "The user is on the waitlist (`waitlisted`). " + WRONG_KEY,
                    413: TOO_LARGE,
                    415: NOT_JSON,
                    429: "Too many failed logins (`rate_limited`); retry after `Retry-After` seconds.",
                }
            ),
        },
    )
    def post(self, request):
        environment = authenticate_env_key(request)
        data = self.input(request)
        throttle = LoginThrottle(environment=environment, email=data["email"], address=client_ip(request))
        throttle.check()
        try:
            user, token = user_login(
                environment=environment, email=data["email"], password=data["password"], visitor_id=data["visitorId"]
            )
        except InvalidCredentials:
            throttle.failed()
            raise
        throttle.succeeded()
        return Response(self.OutputSerializer({"user": user, "token": token}).data)


class LogoutApi(IdentityApi):
    auth_schemes = ("envKey", "userToken")

    @extend_schema(
        summary="Log an end user out",
        description="Revokes the session token; records `user.signout`.",
        request=None,
        responses={
            204: OpenApiResponse(description="The token no longer works."),
            **error_responses({**TOKEN_ERRORS, 413: TOO_LARGE}),
        },
    )
    def post(self, request):
        user_logout(token=authenticate_user_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(IdentityApi):
    auth_schemes = ("envKey", "userToken")

    class OutputSerializer(serializers.Serializer):
        user = UserSerializer()

        class Meta:
            ref_name = "UserResult"

    @extend_schema(
        summary="The end user of a session token",
        description="Answers while the token lives; once it is revoked (logout) or expired, 401.",
        responses={200: OutputSerializer, **error_responses(TOKEN_ERRORS)},
    )
    def get(self, request):
        token = authenticate_user_token(request)
        return Response(self.OutputSerializer({"user": token.user}).data)


class UserApproveApi(IdentityApi):
    auth_schemes = ("secretKey",)

    OutputSerializer = MeApi.OutputSerializer

    @extend_schema(
        summary="Let a waitlisted user in",
        description="Sets the status to `active` and records `user.waitlist_approved`. "
        "Approving an active user changes nothing.",
        parameters=[OpenApiParameter("user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="`usr_…`")],
        request=None,
        responses={
            200: OutputSerializer,
            **error_responses(
                {
                    401: "The secret key is missing, unknown or rotated.",
                    403: "The env key was sent instead of the secret key (`wrong_key_kind`), or an env key of "
                    "another environment alongside it (`key_mismatch`).",
                    404: "No such user in this environment (`not_found`).",
                    413: TOO_LARGE,
                }
            ),
        },
    )
    def post(self, request, user_id: str):
        environment = authenticate_secret_key(request)
        user = user_approve(user=end_user_get_or_404(environment=environment, public_id=user_id))
        return Response(self.OutputSerializer({"user": user}).data)


class IdentifyApi(SecretKeyApi):
    class InputSerializer(serializers.Serializer):
        userId = serializers.RegexField(rf"^{ids.USER_ID_RE.pattern}$", help_text="`usr_…`")
        # Checked by the service, so that a missing or malformed one is `invalid_visitor_id`.
        visitorId = VisitorIdText(
            help_text="`vis_` + 16–64 of `[A-Za-z0-9]`.",
            required=False,
            allow_null=True,
            allow_blank=True,
            trim_whitespace=False,
            default=None,
        )

        class Meta:
            ref_name = "Identify"

    class OutputSerializer(serializers.Serializer):
        userId = serializers.CharField()
        visitorId = serializers.CharField()
        linked = serializers.BooleanField(
            help_text="False when the visitor already belongs to another user: it is not moved, and the "
            "conflict is counted."
        )

        class Meta:
            ref_name = "IdentifyResult"

    @extend_schema(
        operation_id="identify",
        summary="Link a visitor to a user",
        description="Links the browser's visitor to the user; its history (before and after) becomes the "
        "user's, and the user's first touch is recomputed, in the background. Idempotent.",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            **error_responses(
                {
                    400: "Malformed JSON (`malformed_json`), a missing `userId` (`invalid_request`), or a "
                    "malformed `visitorId` (`invalid_visitor_id`).",
                    **SECRET_KEY_ERRORS,
                    404: "No such user in this environment (`not_found`).",
                    413: "The body is over 512 KiB (`payload_too_large`).",
                    415: "The body is not `application/json` (`unsupported_media_type`).",
                }
            ),
        },
        tags=["users"],
    )
    def post(self, request):
        environment = authenticate_secret_key(request)
        data = self.input(request)
        user = end_user_get_or_404(environment=environment, public_id=data["userId"])
        result = user_identify(environment=environment, user=user, visitor_id=data["visitorId"])
        answer = {"userId": user.public_id, "visitorId": data["visitorId"], "linked": result.linked}
        return Response(self.OutputSerializer(answer).data)
