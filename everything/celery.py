"""Celery for Everything. With REDIS_URL unset, tasks run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "everything.settings")

app = Celery("everything")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
