from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

app_name = "portal"

environment_pages = [
    path("", views.dashboard, name="dashboard"),
    path("conversions/", views.conversions, name="conversions"),
    path("flows/", views.flows, name="flows"),
    path("funnels/", views.funnels, name="funnels"),
    path("users/", views.users, name="users"),
    path("users/<str:user_id>/", views.user_detail, name="user_detail"),
    path("users/<str:user_id>/approve/", views.user_approve, name="user_approve"),
    path("journeys/", views.journeys, name="journeys"),
    path("journeys/<int:journey_id>/", views.journey_detail, name="journey_detail"),
    path("journeys/<int:journey_id>/transitions/", views.journey_transition, name="journey_transition_add"),
    path("journeys/<int:journey_id>/enabled/", views.journey_enabled, name="journey_set_enabled"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/add/", views.webhook_add, name="webhook_add"),
    path("webhooks/<str:endpoint_id>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:endpoint_id>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/<str:endpoint_id>/enabled/", views.webhook_enabled, name="webhook_set_enabled"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/replay/",
        views.delivery_replay_view,
        name="delivery_replay",
    ),
    path("settings/", views.environment_settings, name="settings"),
    path("settings/rotate-secret-key/", views.rotate_secret_key, name="rotate_secret_key"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("<slug:org>/<slug:project>/<slug:environment>/", include(environment_pages)),
]
