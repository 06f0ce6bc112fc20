from django.urls import path

from .apis.collect import CollectApi
from .apis.events import EventsApi
from .apis.users import UserProfileApi, UserTimelineApi

urlpatterns = [
    path("analytics/collect", CollectApi.as_view(), name="collect"),
    path("events", EventsApi.as_view(), name="events"),
    # GET is the profile; DELETE on the same path is the erasure (mixed into the view).
    path("users/<str:user_id>", UserProfileApi.as_view(), name="user"),
    path("users/<str:user_id>/timeline", UserTimelineApi.as_view(), name="user-timeline"),
]
