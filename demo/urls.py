from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.page, name="home"),
    # Every page of the single-page site answers the same shell, so a reload works.
    path("<slug:name>", views.page, name="page"),
]
