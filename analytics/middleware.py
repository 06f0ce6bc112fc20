"""The collect endpoint's short way through the middleware.

`POST /v1/analytics/collect` is the one hot path of the project: browsers call it for
every pageview. It uses no cookie session, login, CSRF token, message, static file or
HTML header, yet the middleware behind this one would cost it about a third of its
CPU. So, placed right after SecurityMiddleware (whose headers and HTTPS redirect it
keeps), this middleware hands that one request straight to the view. Every other
request, the collect preflight included, takes the whole chain.
"""

from django.urls import reverse

from .apis.collect import CollectApi


class CollectShortcutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.collect = CollectApi.as_view()
        self.collect_path = None  # resolved at the first request: URLconf may not be loaded yet

    def __call__(self, request):
        if self.collect_path is None:
            self.collect_path = reverse("collect")
        if request.method == "POST" and request.path == self.collect_path:
            # What CommonMiddleware would refuse: a Host that ALLOWED_HOSTS does not serve.
            request.get_host()
            return self.collect(request)
        return self.get_response(request)
