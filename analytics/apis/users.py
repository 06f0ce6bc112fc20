"""Server reads and links of a user's analytics (SPEC 4.3), all with the secret key.

`POST /v1/identify`, `GET /v1/users/{id}` (the profile; `DELETE` on the same path is
the erasure, mixed in from `erasure.py`) and `GET /v1/users/{id}/timeline`. A user
of another environment is answered exactly like one that does not exist.
"""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from ascendkit_site import ids
from ascendkit_site.api import KeyedApi
from ascendkit_site.errors import ApiError
from ascendkit_site.jsonbody import read_json_object
from ascendkit_site.openapi import error_responses
from identity.auth import authenticate_secret_key
from identity.models import EndUser, Environment
from identity.selectors import end_user_get

from ..selectors import TIMELINE_DEFAULT_LIMIT, TIMELINE_MAX_LIMIT, InvalidCursor, user_profile, user_timeline
from ..services.stitching import visitor_link
from .erasure import UserErasureMixin

SECRET_KEY_ERRORS = {
    401: "The secret key is missing, unknown or rotated.",
    403: "A key of the wrong kind (`wrong_key_kind`) or an env key of another environment (`key_mismatch`).",
}
USER_PATH_PARAMETER = OpenApiParameter(
    "user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The user's `usr_…` ID."
)


def _user_or_404(environment: Environment, public_id: str) -> EndUser:
    user = end_user_get(environment=environment, public_id=public_id)
    if user is None:
        raise ApiError("not_found", "There is no user with this ID in this environment.", status.HTTP_404_NOT_FOUND)
    return user


class SecretKeyApi(KeyedApi):
    auth_schemes = ("secretKey",)


class IdentifyApi(SecretKeyApi):
    parser_classes: list = []  # read by hand, with the API's size limit

    class InputSerializer(serializers.Serializer):
        userId = serializers.CharField(help_text="`usr_…`")
        visitorId = serializers.RegexField(
            rf"^{ids.VISITOR_ID_RE.pattern}$", help_text="`vis_` + 16–64 of `[A-Za-z0-9]`."
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
        request={"application/json": InputSerializer},
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
        body = read_json_object(request)
        user_id, visitor_id = body.get("userId"), body.get("visitorId")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError("invalid_request", "`userId` must be the user's `usr_…` ID.")
        if not ids.is_visitor_id(visitor_id):
            raise ApiError("invalid_visitor_id", "`visitorId` must be `vis_` followed by 16 to 64 letters or digits.")
        user = _user_or_404(environment, user_id)
        with transaction.atomic():
            result = visitor_link(environment=environment, user=user, visitor_public_id=visitor_id)
        answer = {"userId": user.public_id, "visitorId": visitor_id, "linked": result.linked}
        return Response(self.OutputSerializer(answer).data)


class TouchSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="GA4 default channel group, e.g. `Organic Search`.")
    source = serializers.CharField()
    medium = serializers.CharField()
    campaign = serializers.CharField()
    term = serializers.CharField()
    content = serializers.CharField()
    referrer = serializers.CharField(help_text="Referrer host and path.")
    referringDomain = serializers.CharField(source="referring_domain")
    landingPage = serializers.CharField(source="landing_page", help_text="The path of the first page.")
    at = serializers.DateTimeField()

    class Meta:
        ref_name = "Touch"


class ProfileStatsSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    pageviews = serializers.IntegerField()
    preSignupPageviews = serializers.IntegerField(source="pre_signup_pageviews")
    preSignupEvents = serializers.IntegerField(source="pre_signup_events")

    class Meta:
        ref_name = "ProfileStats"


class ProfileSerializer(serializers.Serializer):
    """A user, in the fields the auth endpoints answer, plus attribution, visitors and counts."""

    id = serializers.CharField(source="user.public_id", help_text="`usr_…`")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    status = serializers.ChoiceField(source="user.status", choices=EndUser.Status.choices)
    createdAt = serializers.DateTimeField(source="user.created_at")
    firstTouch = TouchSerializer(
        source="first_touch", allow_null=True, help_text="Earliest first touch of any visitor."
    )
    signupTouch = TouchSerializer(source="signup_touch", allow_null=True, help_text="The signup session's source.")
    visitors = serializers.ListField(child=serializers.CharField(), source="visitor_ids", help_text="`vis_…` IDs.")
    stats = ProfileStatsSerializer()

    class Meta:
        ref_name = "Profile"


class UserProfileApi(UserErasureMixin, SecretKeyApi):
    @extend_schema(
        operation_id="users_profile",
        summary="A user's profile",
        description="The user, their first-touch and signup-touch attribution, their visitors (devices) and "
        "counts of their history.",
        parameters=[USER_PATH_PARAMETER],
        responses={
            200: ProfileSerializer,
            **error_responses({**SECRET_KEY_ERRORS, 404: "No such user in this environment (`not_found`)."}),
        },
        tags=["users"],
    )
    def get(self, request, user_id: str):
        environment = authenticate_secret_key(request)
        user = _user_or_404(environment, user_id)
        return Response(ProfileSerializer(user_profile(user=user)).data)


class TimelineItemSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["pageview", "event"])
    at = serializers.DateTimeField()
    sessionId = serializers.CharField(source="session_id", allow_null=True)
    visitorId = serializers.CharField(source="visitor_id", allow_null=True)
    preSignup = serializers.BooleanField(source="pre_signup", help_text="Before the user signed up.")
    url = serializers.CharField(
        required=False, help_text="Pageviews: host and path, e.g. `example.com/pricing` (no scheme or query)."
    )
    path = serializers.CharField(required=False, help_text="Pageviews.")
    title = serializers.CharField(required=False, help_text="Pageviews.")
    name = serializers.CharField(required=False, help_text="Events.")
    properties = serializers.DictField(required=False, help_text="Events.")

    class Meta:
        ref_name = "TimelineItem"

    def to_representation(self, item):
        answer = {
            "type": item.type,
            "at": serializers.DateTimeField().to_representation(item.at),
            "sessionId": item.session_id,
            "visitorId": item.visitor_id,
            "preSignup": item.pre_signup,
        }
        if item.type == "pageview":
            answer.update(url=item.url, path=item.path, title=item.title)
        else:
            answer.update(name=item.name, properties=item.properties or {})
        return answer


class TimelineSerializer(serializers.Serializer):
    items = TimelineItemSerializer(many=True)
    next = serializers.CharField(source="next_cursor", allow_null=True, help_text="The next page's cursor, or null.")

    class Meta:
        ref_name = "Timeline"


class UserTimelineApi(SecretKeyApi):
    @extend_schema(
        operation_id="users_timeline",
        summary="A user's pageviews and events, oldest first",
        description="Pre-signup pageviews and events (from visitors linked to the user) are included and "
        "marked `preSignup`. Pass `next` back as `cursor` for the following page.",
        parameters=[
            USER_PATH_PARAMETER,
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`next` of the previous page."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": TIMELINE_MAX_LIMIT},
                description=f"Items per page, default {TIMELINE_DEFAULT_LIMIT}, at most {TIMELINE_MAX_LIMIT}.",
            ),
        ],
        responses={
            200: TimelineSerializer,
            **error_responses(
                {
                    400: "A `cursor` this API did not make (`invalid_cursor`) or a `limit` that is not a "
                    "positive number (`invalid_request`).",
                    **SECRET_KEY_ERRORS,
                    404: "No such user in this environment (`not_found`).",
                }
            ),
        },
        tags=["users"],
    )
    def get(self, request, user_id: str):
        environment = authenticate_secret_key(request)
        limit = _limit_from(request.query_params.get("limit"))
        user = _user_or_404(environment, user_id)
        try:
            page = user_timeline(user=user, cursor=request.query_params.get("cursor") or None, limit=limit)
        except InvalidCursor:
            raise ApiError("invalid_cursor", "The cursor is not one this API returned.") from None
        return Response(TimelineSerializer(page).data)


def _limit_from(value: str | None) -> int:
    if value is None or value == "":
        return TIMELINE_DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= TIMELINE_MAX_LIMIT:
        raise ApiError("invalid_request", f"`limit` must be a number from 1 to {TIMELINE_MAX_LIMIT}.")
    return int(value)
