from django.urls import path

from . import apis

urlpatterns = [
    path("analytics/collect", apis.CollectApi.as_view(), name="collect"),
]
