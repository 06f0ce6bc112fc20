import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascendkit_site.settings")

application = get_wsgi_application()

# Build the user-agent parser and crawler patterns now rather than in the first request.
from analytics.enrichment.useragent import device_from_user_agent  # noqa: E402

device_from_user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36")

# Open the GeoIP database now too: a missing file stops the start, a stale one warns once.
from analytics.enrichment.geo import open_database  # noqa: E402

open_database()
