"""Live visitors: who is on the site right now."""

from datetime import timedelta

from django.utils import timezone

from identity.models import Environment

from ..models import Event, Pageview

LIVE_WINDOW = timedelta(minutes=5)


def live_visitors(*, environment: Environment) -> int:
    """Distinct visitors with a pageview or a browser event in the last five minutes."""
    since = timezone.now() - LIVE_WINDOW
    viewing = Pageview.objects.filter(environment=environment, timestamp__gte=since).values("visitor_id")
    acting = Event.objects.filter(environment=environment, timestamp__gte=since, visitor__isnull=False).values(
        "visitor_id"
    )
    return viewing.union(acting).count()
