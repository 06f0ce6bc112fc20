import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascendkit_site.settings")

app = Celery("ascendkit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
