from django.urls import path

from .apis.collect import CollectApi
from .apis.events import EventsApi
from .apis.stats import (
    StatsAggregateApi,
    StatsBreakdownApi,
    StatsConversionPathsApi,
    StatsFunnelApi,
    StatsPageFlowsApi,
    StatsTimeseriesApi,
)
from .apis.users import UserProfileApi, UserTimelineApi

urlpatterns = [
    path("analytics/collect", CollectApi.as_view(), name="collect"),
    path("events", EventsApi.as_view(), name="events"),
    # GET is the profile; DELETE on the same path is the erasure (mixed into the view).
    path("users/<str:user_id>", UserProfileApi.as_view(), name="user"),
    path("users/<str:user_id>/timeline", UserTimelineApi.as_view(), name="user-timeline"),
    path("stats/aggregate", StatsAggregateApi.as_view(), name="stats-aggregate"),
    path("stats/timeseries", StatsTimeseriesApi.as_view(), name="stats-timeseries"),
    path("stats/breakdown", StatsBreakdownApi.as_view(), name="stats-breakdown"),
    path("stats/conversion-paths", StatsConversionPathsApi.as_view(), name="stats-conversion-paths"),
    path("stats/page-flows", StatsPageFlowsApi.as_view(), name="stats-page-flows"),
    path("stats/funnel", StatsFunnelApi.as_view(), name="stats-funnel"),
]
