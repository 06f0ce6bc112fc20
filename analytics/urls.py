from django.urls import path

from .apis.collect import CollectApi

urlpatterns = [
    path("analytics/collect", CollectApi.as_view(), name="collect"),
]
