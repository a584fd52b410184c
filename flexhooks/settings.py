"""Settings for flexhooks.

Every setting comes from the environment and is read here, once. With nothing set the
embedded default serves (a SQLite file and Celery's filesystem broker under ``var/``), so
the project runs on a machine with no servers at all. A value that does not parse stops
start-up with a message that names the variable.
"""

import base64
import ipaddress
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _read(name: str, cast, default):
    """Read one variable; any parse error names the variable."""
    try:
        return cast(name, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} has an invalid value: {exc}") from exc


def _database(name: str, default: str) -> dict:
    url = env.str(name, default=default)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            config = environ.Env.db_url_config(url)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    if not config.get("ENGINE") or not config.get("NAME"):
        raise ImproperlyConfigured(
            f"{name} is not a valid database URL: {url!r} "
            "(expected e.g. postgres://user:pass@host:5432/name or sqlite:////path/db.sqlite3)"
        )
    return config


def _retry_schedule(name: str, default: str) -> tuple[int, ...]:
    raw = env.str(name, default=default)
    try:
        delays = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated whole seconds, got {raw!r}"
        ) from exc
    if any(delay < 0 for delay in delays):
        raise ImproperlyConfigured(f"{name} may not contain negative delays, got {raw!r}")
    return delays


def _rate(name: str, default: str) -> str | None:
    raw = env.str(name, default=default).strip()
    if raw.lower() in {"off", "none", ""}:
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name} must look like '100/second' or 'off', got {raw!r}")
    return raw


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def _threshold(name: str, default: str) -> int | None:
    raw = env.str(name, default=default).strip().lower()
    if raw in {"off", "none"}:
        return None
    return int(raw)


def _networks(name: str, default):
    """Comma-separated CIDRs, e.g. "10.1.0.0/16,fd00::/8"."""
    return tuple(ipaddress.ip_network(cidr.strip()) for cidr in env.list(name, default=default))


DEBUG = _read("DEBUG", _bool, False)
# Build-time commands that never sign, encrypt or serve anything run without production's
# secrets (a fresh checkout's `makemigrations --check`, an image's `collectstatic`).
_BUILD_COMMAND = sys.argv[1:2] in (["makemigrations"], ["collectstatic"]) and sys.argv[0].endswith(
    "manage.py"
)
_SECRETS_REQUIRED = not DEBUG and not _BUILD_COMMAND
_DEVELOPMENT_SECRET_KEY = "django-insecure-flexhooks-development-key"  # noqa: S105 - DEBUG only
SECRET_KEY = _read("SECRET_KEY", env.str, _DEVELOPMENT_SECRET_KEY)
if _SECRETS_REQUIRED and (
    SECRET_KEY == _DEVELOPMENT_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value (50+ characters) when DEBUG is off: "
        'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _read("CSRF_TRUSTED_ORIGINS", env.list, [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (no CDN)
    "axes",
    "accounts",
    "endpoints",
    "deliveries",
    "dashboard",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the dashboard's and the API docs') from STATIC_ROOT, by the app server
    # itself: gunicorn with DEBUG=0 needs nothing in front.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.middleware.RefuseUnsizedBodies",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: locks out repeated failed admin logins (django-axes).
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "flexhooks.urls"
WSGI_APPLICATION = "flexhooks.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": _database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'flexhooks.sqlite3'}")}
DATABASE_POOL_SIZE = _read("DATABASE_POOL_SIZE", env.int, 8)
DATABASE_PREPARE_THRESHOLD = _read("DATABASE_PREPARE_THRESHOLD", _threshold, "5")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's pool (psycopg_pool) bounds the connections of each process, web or worker.
    # Server-side binding lets psycopg prepare a statement after it ran
    # DATABASE_PREPARE_THRESHOLD times on a connection ("off" behind PgBouncer in
    # transaction mode before 1.21).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    # The pool checks a connection before handing it out (one empty query), so one that
    # died idle (a database restart, a proxy's timeout) costs nothing but that check.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            # A request or task waits this long for a free connection, then fails.
            "timeout": 10,
        },
        "server_side_binding": True,
        "prepare_threshold": DATABASE_PREPARE_THRESHOLD,
    }
else:
    VAR_DIR.mkdir(exist_ok=True)
    # WAL lets the web server, worker and beat of `make run` share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Served over HTTPS (possibly behind a proxy that sets X-Forwarded-Proto): HSTS, redirects
# to https, cookies only over https.
FLEXHOOKS_TLS = _read("FLEXHOOKS_TLS", _bool, False)
if FLEXHOOKS_TLS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz answers the load balancer's plain-http probe without a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Admin login throttling (django-axes): this many failures in a row from one address, or
# for one user name, lock that address or name out for FLEXHOOKS_ADMIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = _read("FLEXHOOKS_ADMIN_LOGIN_FAILURES", env.int, 5)
AXES_COOLOFF_TIME = timedelta(minutes=_read("FLEXHOOKS_ADMIN_LOCKOUT_MINUTES", env.int, 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False  # no banner on every manage.py command
# The client's address: the socket's own, unless a proxy in front sets X-Forwarded-For
# (FLEXHOOKS_TLS: behind one); a client's own header cannot pick its address.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if FLEXHOOKS_TLS else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_COUNT = 1 if FLEXHOOKS_TLS else None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates as 2026-12-02 11:23:51 everywhere in the dashboard (flexhooks/formats/en).
FORMAT_MODULE_PATH = ["flexhooks.formats"]

STATIC_URL = "static/"
# Empty means the default (as .env.example leaves it), never the current directory.
STATIC_ROOT = Path(_read("FLEXHOOKS_STATIC_ROOT", env.str, "") or VAR_DIR / "static")
# collectstatic writes compressed copies and content-hashed names (cached for a year by
# browsers); with DEBUG on, names stay plain and runserver serves the sources. The test
# suite uses Django's plain storage so it needs no collectstatic
# (FLEXHOOKS_STATIC_STORAGE=django.contrib.staticfiles.storage.StaticFilesStorage).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": _read(
            "FLEXHOOKS_STATIC_STORAGE",
            env.str,
            "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _read("LOG_LEVEL", env.str, "INFO")},
}

# --- Redis-backed cache (throttling) when Redis is configured -------------------------
CACHE_URL = _read("CACHE_URL", env.str, "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = _read("CELERY_BROKER_URL", env.str, "filesystem://")
if "://" not in CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL is not a broker URL: {CELERY_BROKER_URL!r} "
        "(expected e.g. redis://127.0.0.1:6379/0, amqp://guest@localhost// or filesystem://)"
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        # The exchange tables; kombu's default is ./control, beside the code.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    _queue_dir.mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than any countdown we hand to Celery, so an ETA message is never
    # redelivered while it still waits in a worker. Long delays live in PostgreSQL.
    # Socket timeouts: a Redis that hangs costs a publish seconds, never a request that
    # hangs for ever (the message is not needed: the sweeper publishes again).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
    }

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message reserved per worker slot: with acks_late nothing waits behind a slow attempt.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "flexhooks"
CELERY_TASK_QUEUES = (
    Queue("flexhooks", routing_key="flexhooks"),
    Queue("deliveries", routing_key="deliveries"),
    # What the sweeper wakes (see deliveries/wakeups.py).
    Queue("deliveries_swept", routing_key="deliveries_swept"),
)
CELERY_TASK_ROUTES = {
    "deliveries.tasks.deliver": {"queue": "deliveries"},
    "deliveries.tasks.wake_chunk": {"queue": "deliveries"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One more try after a dropped broker connection (a restart); a lost message costs only a
# delay (the sweeper publishes again), so a publish never waits long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- flexhooks -------------------------------------------------------------------------
# What an operator tunes. Everything else is a constant beside the code that uses it,
# with the reason for its value.
FLEXHOOKS_VERSION = "0.2.0"
FLEXHOOKS_RETRY_SCHEDULE = _retry_schedule(
    "FLEXHOOKS_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000"
)
FLEXHOOKS_MAX_PAYLOAD_BYTES = _read("FLEXHOOKS_MAX_PAYLOAD_BYTES", env.int, 1024 * 1024)
FLEXHOOKS_CONNECT_TIMEOUT = _read("FLEXHOOKS_CONNECT_TIMEOUT", env.float, 5.0)
FLEXHOOKS_REQUEST_DEADLINE = _read("FLEXHOOKS_REQUEST_DEADLINE", env.float, 15.0)
# Outbound guard: nothing internal is reachable unless one of these opens it.
FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = _read("FLEXHOOKS_ALLOW_PRIVATE_NETWORKS", _bool, False)
FLEXHOOKS_ALLOW_LOOPBACK = _read("FLEXHOOKS_ALLOW_LOOPBACK", _bool, False)
FLEXHOOKS_ALLOWED_CIDRS = _read("FLEXHOOKS_ALLOWED_CIDRS", _networks, ())
FLEXHOOKS_HTTPS_ONLY = _read("FLEXHOOKS_HTTPS_ONLY", _bool, False)
FLEXHOOKS_API_RATE = _rate("FLEXHOOKS_API_RATE", "100/second")
# Fair share: attempts one account may have in flight at once (all workers together).
FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT = _read("FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT", env.int, 16)
FLEXHOOKS_MAX_ENDPOINTS_PER_ACCOUNT = _read("FLEXHOOKS_MAX_ENDPOINTS_PER_ACCOUNT", env.int, 50)
# The customer portal: how long a minted link may wait to be opened, how long the session
# it opens lasts, and who may frame it (space-separated origins for CSP frame-ancestors;
# empty: no framing, the portal opens in a tab).
FLEXHOOKS_PORTAL_LINK_SECONDS = _read("FLEXHOOKS_PORTAL_LINK_SECONDS", env.int, 600)
FLEXHOOKS_PORTAL_SESSION_SECONDS = _read("FLEXHOOKS_PORTAL_SESSION_SECONDS", env.int, 3600)
FLEXHOOKS_PORTAL_FRAME_ANCESTORS = _read("FLEXHOOKS_PORTAL_FRAME_ANCESTORS", env.str, "").strip()
# An endpoint failing without a single success for this long is disabled (Svix: 5 days).
FLEXHOOKS_AUTO_DISABLE_AFTER = _read("FLEXHOOKS_AUTO_DISABLE_AFTER", env.int, 5 * 24 * 3600)
# Operational notices (endpoint disabled, deliveries given up) are also POSTed here,
# signed with FLEXHOOKS_OPS_WEBHOOK_SECRET (a whsec_ secret) when one is set.
FLEXHOOKS_OPS_WEBHOOK_URL = _read("FLEXHOOKS_OPS_WEBHOOK_URL", env.str, "")
FLEXHOOKS_OPS_WEBHOOK_SECRET = _read("FLEXHOOKS_OPS_WEBHOOK_SECRET", env.str, "")
# History (events, deliveries, attempts) older than this many days is deleted.
FLEXHOOKS_RETENTION_DAYS = _read("FLEXHOOKS_RETENTION_DAYS", env.int, 30)
# When set, /metrics answers only `Authorization: Bearer <token>`.
FLEXHOOKS_METRICS_TOKEN = _read("FLEXHOOKS_METRICS_TOKEN", env.str, "")
# Seconds between sweeps (beat); a due delivery whose wake-up message is 12 sweeps
# overdue is published again.
FLEXHOOKS_SWEEP_INTERVAL = _read("FLEXHOOKS_SWEEP_INTERVAL", env.float, 5.0)
# Fernet keys (comma-separated, newest first) encrypting endpoint secrets at rest. Unset,
# a key is derived from SECRET_KEY, which is fine for development only.
FLEXHOOKS_ENCRYPTION_KEYS = _read("FLEXHOOKS_ENCRYPTION_KEYS", env.list, [])

if _SECRETS_REQUIRED and not FLEXHOOKS_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FLEXHOOKS_ENCRYPTION_KEYS must hold a Fernet key when DEBUG is off (endpoint secrets"
        " are encrypted with it): "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
for _key in FLEXHOOKS_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FLEXHOOKS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes)"
        ) from exc
if FLEXHOOKS_OPS_WEBHOOK_SECRET:
    try:
        if not FLEXHOOKS_OPS_WEBHOOK_SECRET.startswith("whsec_"):
            raise ValueError
        base64.b64decode(FLEXHOOKS_OPS_WEBHOOK_SECRET.removeprefix("whsec_"), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FLEXHOOKS_OPS_WEBHOOK_SECRET must be a whsec_ secret (whsec_ + base64)"
        ) from exc
if FLEXHOOKS_REQUEST_DEADLINE <= 0 or FLEXHOOKS_CONNECT_TIMEOUT <= 0:
    raise ImproperlyConfigured(
        "FLEXHOOKS_REQUEST_DEADLINE and FLEXHOOKS_CONNECT_TIMEOUT must be positive"
    )

# The threads pool enforces no time limit; these stop a prefork child whose attempt
# hangs past the request deadline.
CELERY_TASK_TIME_LIMIT = int(FLEXHOOKS_REQUEST_DEADLINE) + 30
CELERY_TASK_SOFT_TIME_LIMIT = int(FLEXHOOKS_REQUEST_DEADLINE) + 20
CELERY_BEAT_SCHEDULE = {
    "sweep-deliveries": {
        "task": "deliveries.tasks.sweep",
        "schedule": timedelta(seconds=FLEXHOOKS_SWEEP_INTERVAL),
        "options": {"expires": FLEXHOOKS_SWEEP_INTERVAL * 2},
    },
    "purge-history": {
        "task": "deliveries.tasks.purge_history",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
    "purge-portal-sessions": {
        "task": "portal.tasks.purge_sessions",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
}

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.authentication.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": FLEXHOOKS_API_RATE},
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # An unknown ?format= is a 406 (DRF would answer 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.common.KnownFormatNegotiation",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "flexhooks API",
    "DESCRIPTION": (
        "Webhook endpoints, events and deliveries of one account. Events, deliveries and"
        f" attempts are kept {FLEXHOOKS_RETENTION_DAYS} days (the Flexhooks-Retention-Days"
        " header of every list says so too)."
    ),
    "VERSION": FLEXHOOKS_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"ErrorClassEnum": "outbound.errors.ErrorClass"},
    # Request and response components apart: outputs list every field they always carry
    # as required, inputs only what they need.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",  # errors, integer ids, links
    ],
    # Swagger UI from our own static files (drf-spectacular-sidecar): no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "deepLinking": True},
}
# Bodies over the payload cap are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = FLEXHOOKS_MAX_PAYLOAD_BYTES + 64 * 1024
