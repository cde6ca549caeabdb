"""Settings for Everything: one module, driven by the environment (DESIGN §5).

Unset variables fall back to the embedded development defaults: a SQLite file,
the in-memory channel layer, a local-memory cache and eager Celery tasks.
"""

import base64
import binascii
import os
import sys
from decimal import Decimal
from email.utils import getaddresses
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_addresses(name: str) -> list[tuple[str, str]]:
    """``"Ops <ops@example.com>, b@example.com"`` → ``[("Ops", "ops@…"), ("b@example.com", "b@…")]``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return []
    addresses = getaddresses([raw])
    for _label, address in addresses:
        if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
            raise ImproperlyConfigured(f"{name} must be comma-separated email addresses, got {raw!r}.")
    return [(label or address, address) for label, address in addresses]


# True under the test runner only (pytest is never imported by the web, worker or beat processes).
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    "core",
    "accounts",
    "ledger",
    "notifications",
    "compliance",
    "payments",
    "messaging",
    "social",
    "savings",
    "lending",
    "cards",
    "commerce",
    "everything",  # the top: cross-app management commands (seed_demo)
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",  # first: every later log line carries the request id
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy: see "Security headers" below
    "core.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.ratelimit.AllauthRetryAfterMiddleware",  # allauth's 429s get Retry-After and our page
    "core.ratelimit.RateLimitMiddleware",  # abuse limits of the HTML views (RATE_LIMITS)
    "core.admin_mfa.AdminMFAMiddleware",  # staff pass MFA to enter /admin/ (ADMIN_REQUIRE_MFA)
]

ROOT_URLCONF = "everything.urls"
WSGI_APPLICATION = "everything.wsgi.application"
ASGI_APPLICATION = "everything.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.live",
                "messaging.context_processors.unread",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast rather than queue behind a stuck row lock: the ledger retries a lock timeout
    # (core.db.retry_on_conflict). Set per connection, not per transaction, so a transfer does
    # not pay a round trip for it. DB_LOCK_TIMEOUT=0 waits forever (e.g. for a long migration).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={int(os.environ.get('DB_LOCK_TIMEOUT', '5000'))}"
    )
    # The ledger's hot statements (ledger.services._hot_cursor) are prepared after this many
    # runs on a connection; Django's own cursors bind on the client and never prepare. Empty
    # turns preparing off (e.g. behind a pooler in transaction mode without prepared statements).
    _prepare = os.environ.get("DB_PREPARE_THRESHOLD", "2")
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = int(_prepare) if _prepare else None
    # A connection pool per process (psycopg_pool) when DB_POOL_MAX is set: for the ASGI server,
    # where a persistent connection (CONN_MAX_AGE) is not reused across requests, so without a
    # pool every request opens a new connection (measured: bench/transfers.py, HTTP rows).
    # Off by default: a pool must not be inherited through fork (Celery's prefork workers).
    # Size it so that server processes × DB_POOL_MAX stays under PostgreSQL's max_connections.
    _pool_max = int(os.environ.get("DB_POOL_MAX", "0"))
    if _pool_max and not TESTING:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool requires it
        DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": _pool_max, "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    # CHANNEL_LAYER: "pubsub" (channels_redis.pubsub: one PUBLISH per group_send; measured
    # best by bench/messages.py, see docs/benchmarks.md "Messages") or "redis"
    # (channels_redis.core: per-channel lists, a Lua script and a group sorted set per send).
    # Pub/sub channel names are global to the Redis server, not per database number, so the
    # default prefix carries the database number: environments on one Redis stay apart.
    _CHANNEL_LAYER_BACKENDS = {
        "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "redis": "channels_redis.core.RedisChannelLayer",
    }
    _CHANNEL_LAYER = os.environ.get("CHANNEL_LAYER", "pubsub")
    if _CHANNEL_LAYER not in _CHANNEL_LAYER_BACKENDS:
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be one of {', '.join(_CHANNEL_LAYER_BACKENDS)}.")
    _REDIS_DB = REDIS_URL.split("?")[0].split("/", 3)[3:] or ["0"]  # redis://host:port/<db>
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": _CHANNEL_LAYER_BACKENDS[_CHANNEL_LAYER],
            "CONFIG": {
                # CHANNEL_REDIS_URLS (comma-separated) spreads the layer over several Redis
                # servers: channels_redis shards channels and groups by a consistent hash of the
                # name (docs/scaling.md). The cache and Celery stay on REDIS_URL.
                "hosts": env_list("CHANNEL_REDIS_URLS") or [REDIS_URL],
                # Parallel test workers share one Redis: each keeps its groups to itself.
                "prefix": os.environ.get(
                    "CHANNELS_PREFIX",
                    f"everything.{_REDIS_DB[0] or '0'}"
                    + (
                        f".{os.environ['PYTEST_XDIST_WORKER']}"
                        if TESTING and "PYTEST_XDIST_WORKER" in os.environ
                        else ""
                    ),
                ),
            },
        }
    }
    _CACHE_URL = REDIS_URL
    if TESTING and "PYTEST_XDIST_WORKER" in os.environ:
        # Parallel test workers share the Redis server, and a test's cache.clear() is a FLUSHDB:
        # each worker keeps its cache in a database of its own (the next numbers after REDIS_URL's),
        # so one worker's clear never wipes another's counters mid-test.
        _worker = int("".join(ch for ch in os.environ["PYTEST_XDIST_WORKER"] if ch.isdigit()) or 0)
        _base, _, _db = REDIS_URL.split("?")[0].rpartition("/")
        _CACHE_URL = f"{_base}/{(int(_db or 0) + 1 + _worker) % 16}" if _base.count("/") == 2 else REDIS_URL
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
            "KEY_PREFIX": "everything",
        }
    }
    # Sessions read from the Redis cache (the database only on a miss; written through to both):
    # a signed-in page no longer pays a django_session query. Not under the tests: parallel
    # workers share the Redis database, and a test's cache.clear() (FLUSHDB) in one worker would
    # change another's query counts mid-test.
    if not TESTING:
        SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "memory://"  # a Redis of its own
CELERY_RESULT_BACKEND = REDIS_URL or None
# Eager without Redis, and always under tests: the suite runs no worker, even on Redis.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# A task whose worker dies mid-run must run again (every task is safe to run twice:
# core/tests/test_tasks_twice.py). A killed pool process: the message is requeued at once
# (REJECT_ON_WORKER_LOST; acks_late alone acknowledges it). A killed (or lost) worker: Redis
# keeps the unacknowledged message and redelivers it once the visibility timeout has passed, so
# the timeout must exceed the longest task (the accrual of 1M accounts: ~30 s) and bounds how
# late a lost task runs. No task uses countdown/eta (those would also be redelivered).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900"))}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "ledger-expire-holds": {
        "task": "ledger.tasks.expire_due_holds",
        "schedule": 60.0,
    },
    "payments-release-due": {
        "task": "payments.tasks.release_due_payments",
        "schedule": 60.0,
    },
    "payments-settle-cash-outs": {
        "task": "payments.tasks.settle_due_cash_outs",
        "schedule": 300.0,
    },
    "payments-expire-requests": {
        "task": "payments.tasks.expire_requests",
        "schedule": 3600.0,
    },
    "payments-auto-release-escrows": {
        "task": "payments.tasks.auto_release_escrows",
        "schedule": 300.0,
    },
    "compliance-expire-reviews": {
        "task": "compliance.tasks.expire_overdue_reviews",
        "schedule": 300.0,
    },
    "savings-accrue-interest": {
        "task": "savings.tasks.accrue_interest",
        "schedule": 3600.0,
    },
    "savings-pay-interest": {  # hourly on the 1st–7th: an outage on the 1st heals itself (idempotent)
        "task": "savings.tasks.pay_interest",
        "schedule": crontab(minute=30, day_of_month="1-7"),
    },
    "lending-autopay": {
        "task": "lending.tasks.autopay_due_instalments",
        "schedule": 3600.0,
    },
    "cards-expire-authorizations": {
        "task": "cards.tasks.expire_due_authorizations",
        "schedule": 300.0,
    },
    "commerce-auto-release-orders": {
        "task": "commerce.tasks.auto_release_due_orders",
        "schedule": 300.0,
    },
    "payments-return-stale-checks": {
        "task": "payments.tasks.return_stale_checks",
        "schedule": 3600.0,
    },
    "social-renew-subscriptions": {
        "task": "social.tasks.renew_due_subscriptions",
        "schedule": 3600.0,
    },
    "core-prune-idempotency-records": {
        "task": "core.tasks.prune_idempotency_records",
        "schedule": 24 * 3600.0,
    },
    "core-celery-heartbeat": {  # /healthz reports its age: stale after 5 minutes
        "task": "core.tasks.celery_heartbeat",
        "schedule": 60.0,
    },
    "everything-ledger-check": {  # nightly: alerts staff if DESIGN §3's invariants fail
        "task": "everything.tasks.ledger_check",
        "schedule": crontab(hour=3, minute=15),
    },
}

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing with the production hasher makes every login in the suite slow.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = "handle"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_USERNAME_MIN_LENGTH = 3
ACCOUNT_USERNAME_VALIDATORS = "accounts.validators.HANDLE_VALIDATORS"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm", "login": "accounts.forms.LoginForm"}
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Everything] "
# Abuse limits (core.ratelimit; docs/operations.md "Rate limits"): per user (per IP when signed
# out) and scope, "N/period" windows (s, m, h, d; "50/30m"), all of which must allow a request.
# RATE_LIMITS_ENABLED=0 turns them off, allauth's included (off by default under the tests).
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", not TESTING)
RATE_LIMITS = {
    "payments.send": "10/m,100/h,500/d",
    "payments.request": "10/m,60/h,200/d",
    "messaging.send": "60/m,1000/h",
    "social.post": "10/m,50/30m,2400/d",  # X: 2,400 posts a day, counted in half-hour slots
    "commerce.checkout": "5/m,30/h",
}
RATE_LIMITS_KEY_PREFIX = "rl"
# allauth's rate limits (per IP, or per key = the e-mail or login given); tighter than its
# defaults where a bank would be: password-reset mails and failed logins per account.
ACCOUNT_RATE_LIMITS = (
    {
        "login": "30/m/ip",
        "login_failed": "10/m/ip,5/5m/key",
        "signup": "5/m/ip,20/h/ip",
        "reset_password": "5/m/ip,3/h/key",
        "reset_password_from_key": "20/m/ip",
        "confirm_email": "1/3m/key",
        "reauthenticate": "10/m/user",
    }
    if RATE_LIMITS_ENABLED
    else False
)

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Everything"
# Staff enter /admin/ only after MFA in this session (core.admin_mfa; docs/operations.md
# "Staff MFA"). Off by default under the tests, whose admin tests sign in with force_login.
ADMIN_REQUIRE_MFA = env_bool("ADMIN_REQUIRE_MFA", not TESTING)

HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_SERVE_SPECIFICATION = False

# --- Email ------------------------------------------------------------------------
# Development prints mail to the console; production sends by SMTP (never logs
# verification or reset links). Tests get Django's locmem backend automatically.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Everything <no-reply@everything.local>")
# Alerts to operators (mail_admins, e.g. the nightly ledger_check) go to ADMINS, from SERVER_EMAIL.
# ADMINS="Ops <ops@example.com>, b@example.com": comma-separated addresses, each optionally named.
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ADMINS = env_addresses("ADMINS")

# --- API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "allauth.headless.contrib.rest_framework.authentication.XSessionTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.DefaultCursorPagination",
    # Exact decimals (never floats), bounded nesting, no NUL/surrogates: bad JSON is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    # drf-spectacular's, plus the error answers every operation can give (core/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "core.ratelimit.ScopedRateThrottle",  # RATE_LIMITS: payments, requests, messages, posts, checkout
    ],
    # The suite makes many requests a minute from one "client"; production limits stay sane.
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min"}
    if TESTING
    else {"anon": os.environ.get("API_ANON_RATE", "60/min"), "user": os.environ.get("API_USER_RATE", "600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Everything API",
    "DESCRIPTION": "Post, message, pay, save, borrow and shop from one account.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "core.money.CURRENCY_CHOICES",
        "MovementStatusEnum": ["pending", "completed", "declined", "failed"],
        "RequestStatusEnum": ["open", "paid", "declined", "cancelled", "expired"],
        "CheckStatusEnum": ["outstanding", "deposited", "voided", "stale"],
        "PaymentDirectionEnum": ["sent", "received"],
        "CheckDirectionEnum": ["written", "deposited"],
    },
}

# --- Internationalisation ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Identity documents (compliance): never under MEDIA_URL, only through an access-checked view.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "private-media"))
if TESTING and "PRIVATE_MEDIA_ROOT" not in os.environ:
    # Tests (each xdist worker) write uploads to a throwaway folder, never into the checkout.
    import atexit
    import shutil
    import tempfile

    PRIVATE_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="everything-private-"))
    atexit.register(shutil.rmtree, PRIVATE_MEDIA_ROOT, ignore_errors=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Serve straight from the app folders in development and tests (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Whole request bodies above this are refused (413) before they are read or spooled to disk.
# 42 MB: a message may carry 4 attachments of 10 MB each.
MAX_REQUEST_BODY_BYTES = int(os.environ.get("MAX_REQUEST_BODY_BYTES", str(42 * 1024 * 1024)))

# --- Security ----------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx and live.js read it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer probes over plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp), enforced everywhere; docs/operations.md "Security headers".
# No inline script anywhere: behaviour lives in static/js (tests: core/tests/test_security_headers.py).
# A nonce appears only on a page whose template asks for one (the API docs page, /api/docs/).
# Styles: <style> and stylesheets only from 'self' (or a nonce); style="" attributes are allowed
# (style-src-attr) because templates set computed widths and avatar colours: CSS in an attribute
# cannot run script or read the page, and url() in it is still bound by img-src 'self'.
# connect-src 'self' covers same-origin ws:/wss: in browsers that follow CSP 3 (Chromium, Firefox);
# in production each ALLOWED_HOSTS entry is also listed as wss:// for the rest (older Safari).
_WEBSOCKET_ORIGINS = (
    []
    if DEBUG or TESTING
    else [
        origin
        for host in ALLOWED_HOSTS
        if host != "*"
        for origin in ([f"wss://{host[1:]}", f"wss://*{host}"] if host.startswith(".") else [f"wss://{host}"])
    ]
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *_WEBSOCKET_ORIGINS],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- Product settings ----------------------------------------------------------------
# Card vault (payments.vault). VAULT_KEYS: comma-separated Fernet keys (urlsafe base64 of
# 32 bytes); the first encrypts, all decrypt. Rotate: put a new key first, run
# `manage.py vault_rotate`, then drop the old key. VAULT_FINGERPRINT_KEY (≥ 32 characters)
# keys the HMAC that recognises the same card linked twice; it is separate so rotating
# VAULT_KEYS never changes fingerprints (changing it forgets which linked cards match).
# Both are required in production; DEBUG and the test suite fall back to fixed keys.
_DEV_VAULT_KEY = "ZGV2LW9ubHktdmF1bHQta2V5LW5ldmVyLWluLXByb2Q="  # DEV/TEST ONLY: public, never used in production
_DEV_VAULT_FINGERPRINT_KEY = "dev-only-card-fingerprint-key-never-in-production"  # DEV/TEST ONLY
VAULT_KEYS = env_list("VAULT_KEYS")
VAULT_FINGERPRINT_KEY = os.environ.get("VAULT_FINGERPRINT_KEY", "").strip()
if not VAULT_KEYS:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("VAULT_KEYS must be set when DEBUG is off (comma-separated Fernet keys).")
    VAULT_KEYS = [_DEV_VAULT_KEY]
for _position, _key in enumerate(VAULT_KEYS, start=1):
    try:
        _valid = len(base64.urlsafe_b64decode(_key.encode("ascii"))) == 32 and len(_key) == 44
    except (binascii.Error, ValueError, UnicodeEncodeError):
        _valid = False
    if not _valid:
        raise ImproperlyConfigured(f"VAULT_KEYS entry {_position} is not a Fernet key (urlsafe base64 of 32 bytes).")
if not VAULT_FINGERPRINT_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("VAULT_FINGERPRINT_KEY must be set when DEBUG is off (32 or more characters).")
    VAULT_FINGERPRINT_KEY = _DEV_VAULT_FINGERPRINT_KEY
if len(VAULT_FINGERPRINT_KEY) < 32:
    raise ImproperlyConfigured("VAULT_FINGERPRINT_KEY must be at least 32 characters.")
# A hold that is neither posted nor voided expires after this long by default.
LEDGER_DEFAULT_HOLD_TIMEOUT_SECONDS = int(os.environ.get("LEDGER_DEFAULT_HOLD_TIMEOUT_SECONDS", str(7 * 24 * 3600)))

# Cards (cards app): a virtual debit card is issued when a KYC tier-1 user's USD wallet first
# reaches CARDS_ISSUE_THRESHOLD (minor units; 10000 = $100.00). Numbers start with CARDS_BIN
# (a test BIN: these cards only work on this site's own card network simulator).
CARDS_ISSUE_THRESHOLD = int(os.environ.get("CARDS_ISSUE_THRESHOLD", "10000"))
CARDS_BIN = os.environ.get("CARDS_BIN", "489537")
# Default limits of a new card (USD minor units); the holder may lower or raise them up to the maxima.
CARDS_DEFAULT_PURCHASE_LIMIT = 100000  # $1,000.00 per purchase
CARDS_DEFAULT_DAILY_LIMIT = 250000  # $2,500.00 per day
CARDS_MAX_PURCHASE_LIMIT = 500000
CARDS_MAX_DAILY_LIMIT = 1000000
# An authorisation not captured within this many days expires and its hold is released.
CARDS_AUTHORIZATION_DAYS = 7
# Checks (payments): an outstanding check goes stale after this many days and returns to the writer.
CHECKS_STALE_DAYS = 180

# Commerce: escrow releases 14 days after shipping (physical) or 72 hours after payment (digital)
# unless the buyer confirms or downloads first; a dispute may be opened up to 30 days after delivery.
COMMERCE_AUTO_RELEASE_DAYS = 14
COMMERCE_DIGITAL_RELEASE_HOURS = 72
COMMERCE_DISPUTE_DAYS = 30

# Payments: the FX spread disclosed on every conversion (0.005 = 0.5%).
FX_SPREAD = Decimal(os.environ.get("FX_SPREAD", "0.005"))
# Sending is licensed only in these countries (ISO 3166-1 alpha-2); elsewhere users may receive.
PAYMENTS_LICENSED_REGIONS = env_list("PAYMENTS_LICENSED_REGIONS") or [
    "US", "GB", "IE", "DE", "FR", "ES", "IT", "NL", "PT", "BE", "AT", "CA", "MX", "IN", "JP",
]  # fmt: skip

# LOG_FORMAT: "json" (one object per line: time, level, logger, message, request_id, exc_info;
# the default in production) or "text" (the default under DEBUG and the tests). Request bodies
# are never logged, and Django's mail_admins handler (which mails request POST data) is off.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG or TESTING else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},  # through root; no mail_admins
        "django.db.backends": {"level": "WARNING"},
        # runserver (daphne) logs each request itself; do not print it twice through root.
        "django.channels.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
