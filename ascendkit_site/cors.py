"""CORS for the browser-facing API.

Preflights are answered for any origin: a preflight carries no key, so it cannot
know the environment. The real request is checked against the environment's
allowed origins when its key is authenticated (`identity.auth`), and a refused
origin gets a readable 403 rather than an opaque network error. Every answer,
errors included, echoes the origin so the SDK can read it.
"""

from django.http import HttpResponse

ALLOWED_HEADERS = "Content-Type, Authorization, X-AscendKit-Env-Key"
PREFLIGHT_MAX_AGE = str(24 * 60 * 60)


def add_cors_headers(request, response):
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
    # The answer depends on the Origin header, so caches must key on it.
    response["Vary"] = "Origin"
    return response


class CorsMixin:
    """For DRF APIViews called from browsers: answers preflights, adds headers to every answer."""

    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = ", ".join(self.allowed_methods)
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return add_cors_headers(request, response)
