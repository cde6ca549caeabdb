"""Settings read from the environment for scaling out (docs/scaling.md), checked in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PRINT = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.CHANNEL_LAYERS['default']['CONFIG']['hosts'], s.CELERY_BROKER_URL, "
    "s.CACHES['default']['LOCATION']]))"
)


def _settings_with(**env: str) -> list:
    environ = {k: v for k, v in os.environ.items() if k not in ("CHANNEL_REDIS_URLS", "CELERY_BROKER_URL")}
    environ.update(DJANGO_SETTINGS_MODULE="everything.settings", DEBUG="1", **env)
    out = subprocess.run(
        [sys.executable, "-c", _PRINT], cwd=ROOT, env=environ, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_one_redis_serves_the_layer_the_broker_and_the_cache():
    hosts, broker, cache = _settings_with(REDIS_URL="redis://127.0.0.1:6379/2")
    assert hosts == ["redis://127.0.0.1:6379/2"]
    assert broker == cache == "redis://127.0.0.1:6379/2"


def test_the_channel_layer_and_the_broker_can_have_redis_servers_of_their_own():
    hosts, broker, cache = _settings_with(
        REDIS_URL="redis://cache:6379/0",
        CHANNEL_REDIS_URLS="redis://layer-a:6379/0, redis://layer-b:6379/0",
        CELERY_BROKER_URL="redis://broker:6379/0",
    )
    assert hosts == ["redis://layer-a:6379/0", "redis://layer-b:6379/0"]
    assert broker == "redis://broker:6379/0"
    assert cache == "redis://cache:6379/0"
