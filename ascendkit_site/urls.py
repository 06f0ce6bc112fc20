from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
    path("v1/", include("analytics.urls")),
    path("v1/", include("accounts.urls")),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]

if settings.DEMO_SITE:
    urlpatterns.append(path("demo/", include("demo.urls")))
