"""Server reads of a user's analytics (SPEC 4.3), with the secret key.

`GET /v1/users/{id}` (the profile; `DELETE` on the same path is the erasure, mixed
in from `erasure.py`) and `GET /v1/users/{id}/timeline`. A user of another
environment is answered exactly like one that does not exist.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ascendkit_site.api import SecretKeyApi
from ascendkit_site.errors import ApiError
from ascendkit_site.openapi import SECRET_KEY_ERRORS, USER_PATH_PARAMETER, error_responses
from identity.auth import authenticate_secret_key
from identity.models import EndUser
from identity.selectors import end_user_get_or_404

from ..selectors import TIMELINE_DEFAULT_LIMIT, TIMELINE_MAX_LIMIT, InvalidCursor, user_profile, user_timeline
from ..services.collect import collect_queue_flush
from .erasure import UserErasureMixin


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
        user = end_user_get_or_404(environment=environment, public_id=user_id)
        collect_queue_flush(environment=environment)
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
        user = end_user_get_or_404(environment=environment, public_id=user_id)
        collect_queue_flush(environment=environment)
        try:
            page = user_timeline(user=user, cursor=request.query_params.get("cursor") or None, limit=limit)
        except InvalidCursor:
            raise ApiError("invalid_cursor", "The cursor is not one this API returned.") from None
        return Response(TimelineSerializer(page).data)


def _limit_from(value: str | None) -> int:
    if value is None or value == "":
        return TIMELINE_DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= TIMELINE_MAX_LIMIT:
        raise ApiError("invalid_request", f"`limit` must be a number from 1 to {TIMELINE_MAX_LIMIT}.")
    return int(value)
