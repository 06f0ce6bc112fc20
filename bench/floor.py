"""The floor: a one-file Django app that parses collect bodies and answers 202, no database.

    gunicorn bench.floor:application -w 2

The same load against it, in the same run, says what Django and gunicorn alone cost on
this machine right now; the project's figures are read as a ratio to it.
"""

import json

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import path

if not settings.configured:  # the suite imports this module under the project's settings
    settings.configure(DEBUG=False, SECRET_KEY="bench-floor", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[])


def collect(request):
    try:
        body = json.loads(request.body)
        events = body["events"]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest()
    answer = {"visitorId": body.get("visitorId"), "accepted": len(events), "duplicates": 0, "rejected": []}
    return JsonResponse(answer, status=202)


urlpatterns = [path("v1/analytics/collect", collect)]
application = get_wsgi_application()
