"""The savings and lending beat tasks are on the real Celery app's schedule (issue 6).

``test_beat_schedule_names_real_tasks`` runs everywhere. The Redis test runs only with REDIS_URL
set (``REDIS_URL=redis://127.0.0.1:6379/9 python -m pytest savings/tests/test_beat.py``): the app
then talks to Redis, and celery beat's own scheduler, built from that app, has every entry.
"""

from __future__ import annotations

import importlib

import pytest
from celery import Task
from celery.beat import Scheduler
from django.conf import settings

from everything.celery import app

#: The periodic work of issue 6 (savings points 3–4, lending point 10).
EXPECTED_TASKS = {
    "savings.tasks.accrue_interest",
    "savings.tasks.pay_interest",
    "lending.tasks.autopay_due_instalments",
}


def _scheduled_task_names() -> set[str]:
    return {entry["task"] for entry in app.conf.beat_schedule.values()}


def _tasks_defined_in(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    return {value.name for value in vars(module).values() if isinstance(value, Task)}


def test_beat_schedule_names_real_tasks():
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every app's tasks
    scheduled = _scheduled_task_names()
    assert scheduled >= EXPECTED_TASKS, f"missing from CELERY_BEAT_SCHEDULE: {sorted(EXPECTED_TASKS - scheduled)}"
    # Every periodic task the two apps define is scheduled, and every scheduled name is a real task.
    defined = _tasks_defined_in("savings.tasks") | _tasks_defined_in("lending.tasks")
    assert defined <= scheduled, f"defined but never scheduled: {sorted(defined - scheduled)}"
    unknown = {name for name in scheduled if name not in app.tasks}
    assert not unknown, f"scheduled but not registered with the Celery app: {sorted(unknown)}"


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (the real broker)")
def test_beat_schedule_is_registered_with_the_real_celery_app_on_redis():
    assert app.conf.broker_url == settings.REDIS_URL and app.conf.broker_url.startswith("redis://")
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)  # Redis answers
    app.loader.import_default_modules()
    scheduler = Scheduler(app=app, lazy=False)  # what `celery -A everything beat` builds
    entries = {entry.task: entry for entry in scheduler.schedule.values()}
    for name in EXPECTED_TASKS:
        assert name in entries, f"{name} is not on the beat schedule"
        due, next_in = entries[name].is_due()
        assert isinstance(due, bool) and 0 <= next_in <= 31 * 24 * 3600
        assert name in app.tasks
