"""The Stats API (SPEC 4.4): `GET /v1/stats/{aggregate,timeseries,breakdown,…}`.

Two ways in: a server with the environment's secret key (`Authorization: Bearer
sk_…`), or a team member logged in to the portal (the Django session cookie) who
names the environment with `environment=<org>/<project>/<environment>` (the slugs
`create_environment --json` prints). An environment outside the member's
organizations is answered 404, exactly like one that does not exist. Each view
parses the query with the same parser the portal uses and calls one selector.
"""

from django.conf import settings
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from ascendkit_site.api import KeyedApi
from ascendkit_site.errors import ApiError
from ascendkit_site.openapi import KeyAuthSchema, error_responses
from identity.auth import authenticate_secret_key, bearer_token
from identity.models import Environment
from identity.selectors import environments_for_member

from ..services.collect import collect_queue_flush
from ..stats import (
    ALL_METRICS,
    BREAKDOWN_PROPERTIES,
    FILTER_PROPERTIES,
    PERIODS,
    conversion_paths,
    funnel,
    funnel_window_parse,
    metrics_parse,
    page_flows,
    property_validate,
    stats_aggregate,
    stats_breakdown,
    stats_query_parse,
    stats_timeseries,
)
from ..stats.breakdown import DEFAULT_BREAKDOWN_METRICS
from ..stats.flows import DEFAULT_STEPS, MAX_STEPS
from ..stats.funnels import MAX_WINDOW_HOURS

QUERY_STRING_MAX = 8 * 1024
PORTAL_SESSION_SCHEME = {
    "type": "apiKey",
    "in": "cookie",
    "name": settings.SESSION_COOKIE_NAME,
    "description": "A portal login (Django session); name the environment with `environment=<org>/<project>/<env>`.",
}


class StatsAuthSchema(KeyAuthSchema):
    """Either the secret key or a portal session: two alternative security requirements."""

    def get_auth(self):
        super().get_auth()  # registers the secret key scheme
        self.registry.register_on_missing(
            ResolvedComponent(
                name="portalSession",
                type=ResolvedComponent.SECURITY_SCHEMA,
                object="portalSession",
                schema=PORTAL_SESSION_SCHEME,
            )
        )
        return [{"secretKey": []}, {"portalSession": []}]


def stats_environment(request) -> Environment:
    """The environment the caller may read: by secret key, else by portal login and `environment`."""
    if bearer_token(request) is not None:
        return authenticate_secret_key(request)
    member = request.user
    if member is None or not member.is_authenticated:
        raise ApiError(
            "missing_key",
            "Send the secret key as Authorization: Bearer sk_…, or log in to the portal.",
            status.HTTP_401_UNAUTHORIZED,
        )
    slugs = request.query_params.get("environment", "")
    parts = slugs.split("/")
    if len(parts) != 3 or not all(parts):
        raise ApiError(
            "invalid_environment",
            f"The environment '{slugs}' is not <organization>/<project>/<environment>.",
        )
    organization, project, environment_slug = parts
    environment = (
        environments_for_member(user=member)
        .filter(project__organization__slug=organization, project__slug=project, slug=environment_slug)
        .first()
    )
    if environment is None:
        raise ApiError("not_found", "There is no such environment among yours.", status.HTTP_404_NOT_FOUND)
    return environment


def _or_empty(schema: dict) -> dict:
    """A parameter's schema, or the empty string: an empty parameter means its default."""
    return {"oneOf": [schema, {"type": "string", "maxLength": 0}]}


COMMON_PARAMETERS = [
    OpenApiParameter(
        "period",
        {"type": "string", "enum": [*PERIODS, ""]},
        description="Default (absent or empty) `30d`; presets end today, included.",
    ),
    OpenApiParameter("date", OpenApiTypes.STR, description="For `period=custom`: `YYYY-MM-DD,YYYY-MM-DD`, inclusive."),
    OpenApiParameter(
        "filters",
        OpenApiTypes.STR,
        description="`property==value` joined by `;` (AND), e.g. `country==DE;channel==Organic Search`. "
        f"Properties: {', '.join(FILTER_PROPERTIES)}. `(none)` matches an empty value.",
    ),
    OpenApiParameter(
        "environment",
        OpenApiTypes.STR,
        description="With a portal login only: `<organization>/<project>/<environment>` slugs.",
    ),
]
LIMIT_PARAMETER = OpenApiParameter(
    "limit", _or_empty({"type": "integer", "minimum": 1, "maximum": 1000}), description="Rows, 1 to 1000; default 10."
)
METRICS_DESCRIPTION = f"Comma-separated, of {', '.join(ALL_METRICS)}."
STATS_ERRORS = error_responses(
    {
        400: "A bad `period` (`invalid_period`), `date` (`invalid_date`), metric (`invalid_metric`), property "
        "(`invalid_property`), filter (`invalid_filter`), `limit` (`invalid_limit`), steps (`invalid_steps`), "
        "window (`invalid_window`) or `environment` (`invalid_environment`); the message names the value.",
        401: "No secret key and no portal login (`missing_key`), or an unknown or rotated key (`invalid_key`).",
        403: "A key of the wrong kind (`wrong_key_kind`).",
        404: "With a portal login: no such environment in the member's organizations (`not_found`).",
        414: "The query string is over 8 KiB (`query_too_long`).",
    }
)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number"},
            {
                "type": "object",
                "description": "With `compare=previous_period`.",
                "properties": {
                    "value": {"type": "number"},
                    "previous": {"type": "number"},
                    "change": {"type": "number", "nullable": True},
                },
                "required": ["value", "previous", "change"],
            },
        ]
    }
)
class ComparableMetric(serializers.FloatField):
    """A metric's value; with a comparison, its value, previous value and change."""


def _metrics_object(
    name: str, metrics, *, key: str | None = None, many: bool = False, comparable: bool = False
) -> serializers.Serializer:
    # Only the metrics asked for are answered: each is optional in the schema.
    field = ComparableMetric if comparable else serializers.FloatField
    fields = {metric: field(required=False) for metric in metrics}
    if key:
        # A breakdown row's key is named after its property (`channel`, `page`, …): the
        # schema cannot name it, so it lists the placeholder as optional.
        fields = {key: serializers.CharField(required=not key.startswith("<")), **fields}
    return inline_serializer(name, fields, many=many)


class StatsApi(KeyedApi):
    schema = StatsAuthSchema()
    auth_schemes = ("secretKey",)
    # The portal login; the API is read-only, and DRF checks CSRF on unsafe methods anyway.
    authentication_classes = [SessionAuthentication]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if len(request.META.get("QUERY_STRING", "")) > QUERY_STRING_MAX:
            raise ApiError(
                "query_too_long",
                f"The query string is longer than {QUERY_STRING_MAX // 1024} KiB.",
                status.HTTP_414_REQUEST_URI_TOO_LONG,
            )

    def stats_query(self, request):
        environment = stats_environment(request)
        query = stats_query_parse(environment=environment, params=request.query_params)
        # What was accepted shows in the report, even when it is still queued.
        collect_queue_flush(environment=environment)
        return query


class StatsAggregateApi(StatsApi):
    @extend_schema(
        operation_id="stats_aggregate",
        summary="Totals over a period",
        description="Each metric over the period. With `compare=previous_period`, each is "
        '`{"value", "previous", "change"}`: rates change in percentage points (one decimal), other metrics in '
        "percent (a whole number; 100 when up from 0).",
        parameters=[
            *COMMON_PARAMETERS,
            OpenApiParameter("metrics", OpenApiTypes.STR, description=f"{METRICS_DESCRIPTION} Default: all."),
            OpenApiParameter("compare", {"type": "string", "enum": ["previous_period", ""]}),
        ],
        responses={
            200: inline_serializer(
                "StatsAggregate", {"results": _metrics_object("StatsTotals", ALL_METRICS, comparable=True)}
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        query = self.stats_query(request)
        metrics = metrics_parse(request.query_params.get("metrics"))
        compare = request.query_params.get("compare", "")
        if compare not in ("", "previous_period"):
            raise ApiError("invalid_compare", f"The comparison '{compare}' is not previous_period.")
        results = stats_aggregate(query=query, metrics=metrics, compare=bool(compare))
        return Response({"results": results})


class StatsTimeseriesApi(StatsApi):
    @extend_schema(
        operation_id="stats_timeseries",
        summary="Metrics per day, or per hour for one day",
        description="Every bucket of the period, zeros included, in the environment's time zone: `date` is "
        "`YYYY-MM-DD`, or for `period=day` the local hour as an ISO datetime with its UTC offset.",
        parameters=[
            *COMMON_PARAMETERS,
            OpenApiParameter(
                "metrics", OpenApiTypes.STR, description=f"{METRICS_DESCRIPTION} Default: visitors, pageviews."
            ),
        ],
        responses={
            200: inline_serializer(
                "StatsTimeseries",
                {"results": _metrics_object("StatsBucket", ALL_METRICS, key="date", many=True)},
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        query = self.stats_query(request)
        metrics = metrics_parse(request.query_params.get("metrics"), default=("visitors", "pageviews"))
        return Response({"results": stats_timeseries(query=query, metrics=metrics)})


class StatsBreakdownApi(StatsApi):
    @extend_schema(
        operation_id="stats_breakdown",
        summary="Top values of a property",
        description="Sorted by the first metric, descending; ties by value. An empty value is `(none)`.",
        parameters=[
            *COMMON_PARAMETERS,
            OpenApiParameter("property", OpenApiTypes.STR, required=True, enum=list(BREAKDOWN_PROPERTIES)),
            OpenApiParameter("metrics", OpenApiTypes.STR, description=f"{METRICS_DESCRIPTION} Default: visitors."),
            LIMIT_PARAMETER,
        ],
        responses={
            200: inline_serializer(
                "StatsBreakdown",
                {"results": _metrics_object("StatsBreakdownRow", ALL_METRICS, key="<property>", many=True)},
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        query = self.stats_query(request)
        name = request.query_params.get("property", "").strip()
        if not name:
            raise ApiError("invalid_property", "Name the breakdown's property, e.g. property=channel.")
        property_validate(name)
        metrics = metrics_parse(request.query_params.get("metrics"), default=DEFAULT_BREAKDOWN_METRICS)
        return Response({"results": stats_breakdown(query=query, property=name, metrics=metrics)})


class StatsConversionPathsApi(StatsApi):
    @extend_schema(
        operation_id="stats_conversion_paths",
        summary="How visitors become users",
        description="Per first-touch channel, source and campaign: visitors, signups, conversion rate, median "
        "seconds and sessions to signup; and the most common page sequences into signup.",
        parameters=[*COMMON_PARAMETERS, LIMIT_PARAMETER],
        responses={
            200: inline_serializer(
                "StatsConversionPaths",
                {
                    "channels": inline_serializer(
                        "StatsConversionChannel",
                        {
                            "channel": serializers.CharField(),
                            "source": serializers.CharField(),
                            "campaign": serializers.CharField(),
                            "visitors": serializers.IntegerField(),
                            "signups": serializers.IntegerField(),
                            "conversion_rate": serializers.FloatField(),
                            "median_time_to_signup": serializers.IntegerField(allow_null=True),
                            "median_sessions_to_signup": serializers.FloatField(allow_null=True),
                        },
                        many=True,
                    ),
                    "paths": inline_serializer(
                        "StatsConversionPath",
                        {
                            "steps": serializers.ListField(child=serializers.CharField()),
                            "users": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                },
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        return Response(conversion_paths(query=self.stats_query(request)))


class StatsPageFlowsApi(StatsApi):
    @extend_schema(
        operation_id="stats_page_flows",
        summary="Page-to-page transitions within sessions",
        description="From the first view of `from` in each session, or from the entry pages, `steps` pages deep. "
        "Counts are sessions. Node IDs are `<step>:<page>`; pages beyond the top `limit` of a step are `(other)`.",
        parameters=[
            *COMMON_PARAMETERS,
            OpenApiParameter("from", OpenApiTypes.STR, description="A page path; default: the entry pages."),
            OpenApiParameter(
                "steps",
                _or_empty({"type": "integer", "minimum": 2, "maximum": MAX_STEPS}),
                description=f"2 to {MAX_STEPS}; default {DEFAULT_STEPS}.",
            ),
            LIMIT_PARAMETER,
        ],
        responses={
            200: inline_serializer(
                "StatsPageFlows",
                {
                    "nodes": inline_serializer(
                        "StatsFlowNode",
                        {
                            "id": serializers.CharField(),
                            "step": serializers.IntegerField(),
                            "page": serializers.CharField(),
                        },
                        many=True,
                    ),
                    "links": inline_serializer(
                        "StatsFlowLink",
                        {
                            "source": serializers.CharField(),
                            "target": serializers.CharField(),
                            "visitors": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                    "dropoffs": inline_serializer(
                        "StatsFlowDropoff",
                        {"node": serializers.CharField(), "visitors": serializers.IntegerField()},
                        many=True,
                    ),
                },
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        query = self.stats_query(request)
        steps = _steps_number(request.query_params.get("steps"))
        from_page = request.query_params.get("from", "").strip() or None
        return Response(page_flows(query=query, from_page=from_page, steps=steps))


def _steps_number(text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_STEPS
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 2 <= int(text) <= MAX_STEPS:
        raise ApiError("invalid_steps", f"The steps '{text}' are not a number from 2 to {MAX_STEPS}.")
    return int(text)


class StatsFunnelApi(StatsApi):
    @extend_schema(
        operation_id="stats_funnel",
        summary="Conversion through ordered steps",
        description="A visitor reaches a step after doing every earlier step in order within the window. "
        "`conversion_rate` is relative to the first step; `drop_off` counts the visitors lost since the one before.",
        parameters=[
            *COMMON_PARAMETERS,
            OpenApiParameter(
                "steps",
                OpenApiTypes.STR,
                required=True,
                description="2 to 8, comma-separated: a page path or `event:` + an event name.",
            ),
            OpenApiParameter(
                "window",
                _or_empty({"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_HOURS}),
                description="Hours, default 168.",
            ),
        ],
        responses={
            200: inline_serializer(
                "StatsFunnel",
                {
                    "steps": inline_serializer(
                        "StatsFunnelStep",
                        {
                            "step": serializers.CharField(),
                            "visitors": serializers.IntegerField(),
                            "conversion_rate": serializers.FloatField(),
                            "drop_off": serializers.IntegerField(),
                        },
                        many=True,
                    )
                },
            ),
            **STATS_ERRORS,
        },
        tags=["stats"],
    )
    def get(self, request):
        query = self.stats_query(request)
        window = funnel_window_parse(request.query_params.get("window"))
        return Response(funnel(query=query, steps=request.query_params.get("steps", ""), window_hours=window))


__all__ = [
    "StatsAggregateApi",
    "StatsBreakdownApi",
    "StatsConversionPathsApi",
    "StatsFunnelApi",
    "StatsPageFlowsApi",
    "StatsTimeseriesApi",
]
