"""`POST /v1/events`: business events from servers and signed-in browsers (SPEC 4.2).

Items are validated by hand in the service, as collect does: each is judged on its
own and a bad one is listed in `rejected` rather than failing the batch.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from ascendkit_site.api import SecretKeyApi
from ascendkit_site.cors import CorsMixin
from ascendkit_site.jsonbody import read_batch_items, read_json_object
from ascendkit_site.openapi import BatchItem, error_responses
from identity.auth import authenticate_events_caller

from ..services.business_events import business_events_record


class RejectedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `events`, from 0.")
    reason = serializers.CharField(
        help_text="`invalid_item`, `invalid_name`, `invalid_message_id`, `invalid_properties`, "
        "`properties_too_large`, `invalid_timestamp`, `too_old` (browser calls), `missing_user_id`, "
        "`unknown_user`, `user_mismatch` (browser calls), `invalid_visitor_id`."
    )

    class Meta:
        ref_name = "RejectedBusinessEvent"


_EXAMPLE = {
    "sentAt": "2026-11-29T10:00:05.120Z",
    "events": [
        {
            "userId": "usr_0QkD3n2a5cGZqk3mJx7Yt1Wb",
            "name": "app.checkout.completed",
            "properties": {"total": 99.99},
            "timestamp": "2026-11-29T10:00:00.000Z",
            "messageId": "m3",
            "visitorId": "vis_0QkD3n2a5cGZqk3mJx7Yt1Wb",
        }
    ],
}


class EventsApi(CorsMixin, SecretKeyApi):
    # A server's secret key, or a browser's user session token with the env key.
    auth_alternatives = (("secretKey",), ("envKey", "userToken"))
    # The body is read by hand: items are judged one by one, not by a serializer.
    parser_classes: list = []

    class InputSerializer(serializers.Serializer):
        """Documents the body; the service validates each item on its own."""

        class Item(serializers.Serializer):
            # Untyped in the schema: a bad value rejects its item only (`rejected`), never the batch.
            name = serializers.JSONField(
                required=False, help_text="`app.` + 1–200 of `[A-Za-z0-9_.:-]`; `user.*` is reserved."
            )
            userId = serializers.JSONField(
                required=False, help_text="`usr_…`; required for server calls, the token's user for browser calls."
            )
            properties = serializers.JSONField(required=False, help_text="A JSON object of at most 32 KiB.")
            timestamp = serializers.JSONField(required=False, help_text="ISO 8601; defaults to the arrival time.")
            messageId = serializers.JSONField(
                required=False, help_text="1–64 of `[A-Za-z0-9_-]`: the dedupe key within the environment."
            )
            visitorId = serializers.JSONField(required=False, help_text="`vis_…`: links that visitor to the user.")
            url = serializers.JSONField(
                required=False, help_text="The page a browser event happened on; host and path are kept."
            )

            class Meta:
                ref_name = "BusinessEvent"

        sentAt = serializers.JSONField(
            required=False, help_text="ISO 8601: when the client sent the batch, on its clock: corrects clock skew."
        )
        events = serializers.ListField(child=BatchItem(Item), min_length=1, max_length=100, help_text="1 to 100 items.")

        class Meta:
            ref_name = "BusinessEventBatch"

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField(help_text="Items stored by this call.")
        duplicates = serializers.IntegerField(help_text="Items whose `messageId` was stored before: acknowledged.")
        rejected = RejectedItemSerializer(many=True)

        class Meta:
            ref_name = "BusinessEventsResult"

    @extend_schema(
        operation_id="events_create",
        summary="Record business events",
        description="Server: `Authorization: Bearer sk_…`; every item names its `userId`. Browser: a user's "
        "session token as the bearer plus `X-AscendKit-Env-Key`; items belong to that user. Each stored "
        "event is handed to journeys and webhooks; a `visitorId` links that visitor to the user.",
        request={"application/json": InputSerializer},
        responses={
            202: OutputSerializer,
            **error_responses(
                {
                    400: "Malformed JSON (`malformed_json`) or a bad envelope (`invalid_request`).",
                    401: "The key or session token is missing or unknown.",
                    403: "A key of the wrong kind (`wrong_key_kind`), an env key of another environment "
                    "(`key_mismatch`), or a disallowed origin (`origin_not_allowed`).",
                    413: "The body is over 512 KiB (`payload_too_large`) or holds over 100 items (`too_many_items`).",
                    415: "The body is not `application/json` (`unsupported_media_type`).",
                    503: "Storage is unavailable; retry after `Retry-After` seconds.",
                }
            ),
        },
        examples=[OpenApiExample("A server event", value=_EXAMPLE, request_only=True)],
        tags=["events"],
    )
    def post(self, request):
        caller = authenticate_events_caller(request)
        body = read_json_object(request)
        raw_items = read_batch_items(body)
        result = business_events_record(
            environment=caller.environment,
            token_user=caller.user,
            raw_items=raw_items,
            sent_at=body.get("sentAt"),
            received_at=timezone.now(),
        )
        answer = {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected}
        return Response(answer, status=status.HTTP_202_ACCEPTED)
