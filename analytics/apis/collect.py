"""`POST /v1/analytics/collect`: browser pageviews and pre-signup events (SPEC 4.1).

This is the hot path. Items are validated by hand in `services.collect` rather than
with a serializer per item (a DRF serializer costs more than the database write),
and the client address lives only in this request's memory, for the geo lookup.
"""

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status

from ascendkit_site.api import KeyedApi, check_declared_length
from ascendkit_site.cors import CorsMixin, add_cors_headers
from ascendkit_site.errors import known_error
from ascendkit_site.jsonbody import read_batch_items, read_json_object
from ascendkit_site.openapi import BatchItem, Lenient, error_responses
from identity.auth import authenticate_env_key

from ..enrichment.client_ip import client_ip
from ..services.collect import CollectAnswer, browser_batch_accept

_ITEM_EXAMPLE = {
    "envKey": "env_…",
    "visitorId": "vis_0QkD3n2a5cGZqk3mJx7Yt1Wb",
    "sentAt": "2026-11-29T10:00:05.120Z",
    "context": {
        "userAgent": "Mozilla/5.0 …",
        "locale": "en-US",
        "timezone": "Europe/Berlin",
        "screen": {"width": 1440, "height": 900},
    },
    "events": [
        {
            "type": "pageview",
            "messageId": "m1",
            "timestamp": "2026-11-29T10:00:00.000Z",
            "url": "https://example.com/pricing?utm_source=newsletter",
            "referrer": "https://www.google.com/",
            "title": "Pricing",
        },
        {
            "type": "track",
            "messageId": "m2",
            "timestamp": "2026-11-29T10:00:04.000Z",
            "name": "app.cta_clicked",
            "properties": {"location": "hero"},
        },
    ],
}

_COLLECT_ANSWER = inline_serializer(
    "CollectAnswer",
    fields={
        "visitorId": serializers.CharField(),
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(
            child=inline_serializer(
                "RejectedItem", fields={"index": serializers.IntegerField(), "reason": serializers.CharField()}
            )
        ),
    },
)


class CollectApi(CorsMixin, KeyedApi):
    auth_schemes = ("envKey",)
    # The body is read by hand: beacons send JSON as text/plain.
    parser_classes: list = []

    class InputSerializer(serializers.Serializer):
        """Documents the body; items are validated by hand, each on its own."""

        class Context(serializers.Serializer):
            # Untyped in the schema: a context value of the wrong type is ignored, not refused.
            userAgent = serializers.JSONField(required=False, help_text="Defaults to the request's User-Agent.")
            locale = serializers.JSONField(required=False, help_text="e.g. `en-US`.")
            timezone = serializers.JSONField(required=False, help_text="e.g. `Europe/Berlin`.")
            screen = serializers.JSONField(required=False, help_text='`{"width": 1440, "height": 900}`.')

            class Meta:
                ref_name = "CollectContext"

        class Item(serializers.Serializer):
            # Untyped in the schema: a bad value rejects its item only (`rejected`), never the batch.
            type = serializers.JSONField(required=False, help_text="`pageview` or `track`.")
            messageId = serializers.JSONField(
                required=False, help_text="1–64 of `[A-Za-z0-9_-]`: the dedupe key within the environment."
            )
            timestamp = serializers.JSONField(
                required=False, help_text="ISO 8601; corrected with `sentAt`; at most 7 days old."
            )
            url = serializers.JSONField(
                required=False, help_text="Absolute http(s) URL; required for pageviews. Only utm_* are kept."
            )
            referrer = serializers.JSONField(required=False, help_text="Pageviews: `document.referrer`.")
            title = serializers.JSONField(required=False, help_text="Pageviews: the page title.")
            name = serializers.JSONField(required=False, help_text="Track items: `app.` + 1–200 of `[A-Za-z0-9_.:-]`.")
            properties = serializers.JSONField(required=False, help_text="Track items: a JSON object of ≤ 32 KiB.")

            class Meta:
                ref_name = "CollectItem"

        envKey = serializers.JSONField(required=False, help_text="The env key, when no header can be set (beacons).")
        visitorId = serializers.JSONField(
            required=False, help_text="`vis_` + 16–64 of `[A-Za-z0-9]`; minted and returned when absent or invalid."
        )
        sentAt = serializers.JSONField(
            required=False, help_text="ISO 8601: when the client sent the batch, on its clock; ignored when invalid."
        )
        context = Lenient(Context, summary="The browser; ignored when not an object.", required=False)
        events = serializers.ListField(child=BatchItem(Item), min_length=1, max_length=100, help_text="1 to 100 items.")

        class Meta:
            ref_name = "CollectBatch"

    def dispatch(self, request, *args, **kwargs):
        """POST skips DRF's request machinery: the hot path is a plain Django view.

        DRF's request wrapper, negotiation and response rendering cost more than the
        whole queued write. Preflights and other methods go through DRF as usual.
        """
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        try:
            response = self.post(request)
        except Exception as error:
            known = known_error(error)
            if known is None:
                raise
            status_code, body, headers = known
            response = JsonResponse(body, status=status_code, headers=headers)
        return add_cors_headers(request, response)

    @extend_schema(
        operation_id="analytics_collect",
        summary="Collect browser pageviews and events",
        description="Browser traffic: pageviews and pre-signup events. The env key comes in the header or, for "
        "beacons, as `envKey` in the body. Each item is judged on its own: a bad one is listed in `rejected` "
        "and the others are stored.",
        request={"application/json": InputSerializer, "text/plain": InputSerializer},
        responses={
            202: _COLLECT_ANSWER,
            **error_responses(
                {
                    400: "Malformed JSON (`malformed_json`) or a bad envelope (`invalid_request`).",
                    401: "The env key is missing or unknown.",
                    403: "A disallowed origin (`origin_not_allowed`) or the secret key (`wrong_key_kind`).",
                    413: "A body over 512 KiB (`payload_too_large`) or over 100 items (`too_many_items`).",
                    415: "A content type other than application/json or text/plain.",
                    503: "Storage is unavailable; retry after `Retry-After` seconds.",
                }
            ),
        },
        examples=[OpenApiExample("A pageview and an event", value=_ITEM_EXAMPLE, request_only=True)],
        tags=["collect"],
    )
    def post(self, request):
        check_declared_length(request)
        body = read_json_object(request, content_types=("application/json", "text/plain"))
        environment = authenticate_env_key(request, body)
        answer = browser_batch_accept(
            environment=environment,
            body=body,
            raw_items=read_batch_items(body),
            client_ip=client_ip(request),
            request_user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return _answer(answer)


def _answer(answer: CollectAnswer) -> JsonResponse:
    # A plain JsonResponse: the answer is always JSON, so DRF's content negotiation
    # and renderer would only add cost on the hot path.
    body = {
        "visitorId": answer.visitor_id,
        "accepted": answer.accepted,
        "duplicates": answer.duplicates,
        "rejected": answer.rejected,
    }
    return JsonResponse(body, status=status.HTTP_202_ACCEPTED)
