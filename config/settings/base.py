"""Settings shared by every environment. Each knob is read once, from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en"
USE_I18N = True
# The affiliate-facing pages (/setup/, /partner/) and e-mails speak these; the admin stays English.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# ------------------------------------------------------------------------------
# Apps
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "axes",
    "csp",
    "simple_history",
    "affiliates",
    "offers",
    "postbacks",
    "partners",
]

MIDDLEWARE = [
    # First, so it counts every ingest answer, 401, 413 and 415 included.
    "postbacks.metrics.IngestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy; every page gets one (config/csp.py).
    "config.csp.PortalCSPMiddleware",
    "config.middleware.ApiBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware (as Django asks); config/locale.py says why.
    "config.locale.AffiliateLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: history records name the user (DRF sets a token's user on the
    # same request when it authenticates).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login's answer into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# A request to the API that carries a token (config/wsgi.py) is served without what only a
# browser's request needs: static files, the session and what rests on it (CSRF, the signed-in
# user, messages, the login lockout). The token is checked first and decides alone
# (REST_FRAMEWORK's authentication classes), so none of these could change its answer.
API_TOKEN_MIDDLEWARE = [
    name
    for name in MIDDLEWARE
    if name
    not in {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
]

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

# ------------------------------------------------------------------------------
# Database: PostgreSQL in production and tests; SQLite only as `make run`'s embedded default.
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
# The ingest path's statements are prepared once per connection (config/db_rows.hot_cursor);
# off for a connection pooler that cannot keep prepared statements (PgBouncer before 1.21, or
# in transaction mode without max_prepared_statements).
DATABASE_PREPARED_STATEMENTS = env.bool("DJANGO_DB_PREPARED_STATEMENTS", default=True)

# ------------------------------------------------------------------------------
# Static files
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# ------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# AxesStandaloneBackend first: it refuses a locked-out login before any password is checked; it
# lets nobody in itself, ModelBackend does that.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# ------------------------------------------------------------------------------
# Admin login lockout (django-axes)
# ------------------------------------------------------------------------------
# After AXES_FAILURE_LIMIT failed logins for one username from one client address, that pair is
# refused, the right password included, until AXES_COOLOFF_MINUTES have passed since its last
# failed try. The pair, not the username alone: guessing at a manager's name from one address
# must not lock the manager out everywhere. Not the address alone: colleagues behind one office
# address must not lock each other out. A success clears the pair's count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A try while locked out starts the cool-off again: a script that keeps guessing stays locked.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# The client address as the setup form sees it: SETUP_CLIENT_IP_HEADER behind a proxy, else
# REMOTE_ADDR (config/lockout.py).
AXES_CLIENT_IP_CALLABLE = "config.lockout.client_ip"
# A locked-out login gets the admin's lockout page (templates/admin/lockout.html), 429 with
# Retry-After.
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# No "AXES: BEGIN" banner at the start of every process and manage.py command; failed logins and
# lockouts are logged all the same (username and address masked: they are in the admin).
AXES_VERBOSE = False

# ------------------------------------------------------------------------------
# Security headers, the same in every environment (production.py adds HSTS and https-only
# cookies), so that a page the policy breaks fails in the tests, not in production.
# ------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts, styles and images from the portal's own static
# files only, with no inline script, handler or style in its pages (templates/, the admin's HTML,
# the API docs). The RQ dashboard, a third party's pages, is relaxed on its own URLs only
# (config/csp.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# ------------------------------------------------------------------------------
# E-mail: console by default, SMTP when EMAIL_URL says so (smtp://user:pass@host:587).
# ------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="postbacks@localhost")
# Seconds an SMTP connection may take: sign-in links are sent by the delivery worker, whose
# intake of postback jobs waits while a mail is being sent (Django's default never gives up).
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=10)

# ------------------------------------------------------------------------------
# Redis and RQ
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    "postbacks": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    # Sign-in links to affiliates, sent by the delivery worker (run_delivery_worker).
    "mail": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},
}
RQ_SHOW_ADMIN_LINK = True

# ------------------------------------------------------------------------------
# REST framework and OpenAPI
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.permissions.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.api_input.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api_input.JsonNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.api_input.BoundedLimitOffsetPagination",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Lists page by `limit` (default API_PAGE_SIZE, at most API_PAGE_MAX_LIMIT) and `offset` (at most
# API_PAGE_MAX_OFFSET: a deep OFFSET makes PostgreSQL walk every row before it).
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=100)
API_PAGE_MAX_LIMIT = env.int("API_PAGE_MAX_LIMIT", default=1000)
API_PAGE_MAX_OFFSET = env.int("API_PAGE_MAX_OFFSET", default=1_000_000)
SPECTACULAR_SETTINGS = {
    "TITLE": "Postback portal API",
    "DESCRIPTION": "Conversion ingest and postback management for the affiliate network.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the portal must work without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"; name each choice set after its owner.
    "ENUM_NAME_OVERRIDES": {
        "AffiliateStatusEnum": "affiliates.models.Affiliate.Status",
        "EndpointStatusEnum": "postbacks.models.PostbackEndpoint.Status",
        "BatchResultStatusEnum": "postbacks.apis.BATCH_RESULT_STATUSES",
        "ConversionStatusEnum": "postbacks.lifecycle.STATUSES",
        "IngestStatusEnum": "postbacks.lifecycle.INGEST_STATUSES",
    },
}
# Largest ingest body (docs/spec.md §5: 64 KiB single; the batch endpoint allows 1000 items).
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=64 * 1024)
# Conversions per minute one API token may post (a batch counts its items); 0: no limit.
INGEST_RATE_LIMIT = env.int("INGEST_RATE_LIMIT", default=300_000)
INGEST_BATCH_MAX_BODY_BYTES = env.int("INGEST_BATCH_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_BATCH_MAX_BODY_BYTES
# How far from now a conversion's `occurred_at` may be: backfills reach back, clocks drift ahead.
INGEST_OCCURRED_AT_MAX_AGE_DAYS = env.int("INGEST_OCCURRED_AT_MAX_AGE_DAYS", default=5 * 366)
INGEST_OCCURRED_AT_MAX_AHEAD_HOURS = env.int("INGEST_OCCURRED_AT_MAX_AHEAD_HOURS", default=24)

# ------------------------------------------------------------------------------
# Postback delivery (docs/spec.md §6)
# ------------------------------------------------------------------------------
# CIDRs that are allowed although private/loopback (tests, on-premise receivers).
POSTBACK_ALLOWED_NETWORKS: list[str] = env.list("POSTBACK_ALLOWED_NETWORKS", default=[])
POSTBACK_CONNECT_TIMEOUT = env.float("POSTBACK_CONNECT_TIMEOUT", default=5.0)
POSTBACK_TOTAL_TIMEOUT = env.float("POSTBACK_TOTAL_TIMEOUT", default=15.0)
# Seconds before each retry after the first try: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h.
POSTBACK_RETRY_SCHEDULE: list[int] = [
    int(s)
    for s in env.list(
        "POSTBACK_RETRY_SCHEDULE", default=["60", "300", "1800", "7200", "21600", "43200", "86400"]
    )
]
POSTBACK_RETRY_JITTER = env.float("POSTBACK_RETRY_JITTER", default=0.1)
# Postbacks in flight at once per worker process, and per receiver host.
# Seconds event types, offers and tracker prefixes are reused by ingest (postbacks/lookups.py).
INGEST_LOOKUP_SECONDS = env.float("INGEST_LOOKUP_SECONDS", default=10.0)
POSTBACK_MAX_IN_FLIGHT = env.int("POSTBACK_MAX_IN_FLIGHT", default=512)
POSTBACK_MAX_PER_HOST = env.int("POSTBACK_MAX_PER_HOST", default=32)
# How long a delivery may wait for a busy receiver before it goes back to the database.
POSTBACK_HOST_WAIT = env.float("POSTBACK_HOST_WAIT", default=5.0)
# How often the sweep re-queues due deliveries, and when a claimed delivery counts as abandoned.
POSTBACK_SWEEP_INTERVAL = env.float("POSTBACK_SWEEP_INTERVAL", default=5.0)
POSTBACK_LEASE_SECONDS = env.int("POSTBACK_LEASE_SECONDS", default=60)
POSTBACK_REQUEUE_AFTER = env.int("POSTBACK_REQUEUE_AFTER", default=60)
POSTBACK_USER_AGENT = env.str("POSTBACK_USER_AGENT", default="PostbackPortal/1.0")
# The circuit breaker: an endpoint that failed every attempt for this long, and at least this
# many in a row, is disabled and its account manager told (docs/spec.md §6).
POSTBACK_BREAKER_WINDOW = env.int("POSTBACK_BREAKER_WINDOW", default=24 * 3600)
POSTBACK_BREAKER_MIN_FAILURES = env.int("POSTBACK_BREAKER_MIN_FAILURES", default=20)
# Where breaker alerts go when an affiliate has no account manager with an e-mail.
POSTBACK_ALERT_EMAILS: list[str] = env.list("POSTBACK_ALERT_EMAILS", default=[])
# Attempts and test deliveries older than this are deleted; conversions and deliveries stay.
POSTBACK_RETENTION_DAYS = env.float("POSTBACK_RETENTION_DAYS", default=90)
POSTBACK_RETENTION_INTERVAL = env.float("POSTBACK_RETENTION_INTERVAL", default=3600)

# ------------------------------------------------------------------------------
# Setup form (docs/spec.md §7)
# ------------------------------------------------------------------------------
# Uses per client address per SETUP_RATE_WINDOW seconds: filed requests, and form posts of any
# kind (previews, the live preview, submissions with errors).
SETUP_RATE_LIMIT: dict[str, int] = {
    "submit": env.int("SETUP_SUBMIT_LIMIT", default=5),
    "preview": env.int("SETUP_PREVIEW_LIMIT", default=60),
}
SETUP_RATE_WINDOW = env.int("SETUP_RATE_WINDOW", default=3600)
# Largest setup form body; every field has its own limit as well.
SETUP_MAX_BODY_BYTES = env.int("SETUP_MAX_BODY_BYTES", default=32 * 1024)
# The request header holding the client address, when a trusted proxy sets it (e.g.
# HTTP_X_FORWARDED_FOR; its last entry is used). Empty: the connection's address (REMOTE_ADDR).
SETUP_CLIENT_IP_HEADER = env.str("SETUP_CLIENT_IP_HEADER", default="")
# How long an invite link works, in seconds (14 days).
SETUP_INVITE_MAX_AGE = env.int("SETUP_INVITE_MAX_AGE", default=14 * 24 * 3600)
# Who hears of a new setup request when the affiliate has no account manager with an e-mail.
SETUP_NOTIFY_EMAIL: list[str] = env.list("SETUP_NOTIFY_EMAIL", default=[])
# The portal's public address for links in e-mails and invites, e.g. https://postbacks.example;
# empty: taken from the request.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")

# ------------------------------------------------------------------------------
# The affiliate's own pages (/partner/)
# ------------------------------------------------------------------------------
# How long a sign-in link works, in seconds (15 minutes), and how long a signed-in session lasts.
PARTNER_LINK_MAX_AGE = env.int("PARTNER_LINK_MAX_AGE", default=15 * 60)
PARTNER_SESSION_SECONDS = env.int("PARTNER_SESSION_SECONDS", default=12 * 3600)
# Uses per PARTNER_RATE_WINDOW seconds: sign-in links asked per address and per client address,
# test postbacks and replays per affiliate.
PARTNER_RATE_LIMIT: dict[str, int] = {
    "link-email": env.int("PARTNER_LINK_PER_EMAIL", default=3),
    "link-client": env.int("PARTNER_LINK_PER_CLIENT", default=10),
    "test": env.int("PARTNER_TEST_LIMIT", default=3),
    "replay": env.int("PARTNER_REPLAY_LIMIT", default=3),
}
PARTNER_RATE_WINDOW: dict[str, int] = {
    "link-email": 15 * 60,
    "link-client": 15 * 60,
    "test": 60,
    "replay": 15 * 60,
}
# Most postbacks one replay from the affiliate's page sends again.
PARTNER_REPLAY_MAX = env.int("PARTNER_REPLAY_MAX", default=500)
# How far back the affiliate's postback log reaches, in days.
PARTNER_LOG_DAYS = env.int("PARTNER_LOG_DAYS", default=30)

# ------------------------------------------------------------------------------
# Audit trail (config/history.py)
# ------------------------------------------------------------------------------
# History is read, not restored: a revert would save an old version through simple-history's
# own form view, around the checks of the admin's inlines and custom views (set live only after
# a successful test), so the history pages only show versions (config/history_admin.py).
SIMPLE_HISTORY_REVERT_DISABLED = True
# A change reason (the circuit breaker's, a review's) is text, not a 100-character column that
# would fail the breaker's transaction on a long one.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# ------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
# "plain" for people at a terminal; "json" (one object per line, with conversion_id,
# delivery_id, endpoint_id where a line concerns one) for log collectors in production.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# ------------------------------------------------------------------------------
# Operations: metrics and the admin dashboard (issue 7)
# ------------------------------------------------------------------------------
# The bearer token Prometheus sends to /metrics ("Authorization: Bearer <token>"). Empty: /metrics
# answers 404, so metrics are off until a token is set.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Seconds between two additions of a web process's ingest request counts to Redis (0: each
# request adds its own, a Redis round trip per request).
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=1.0)
# How long the admin dashboard's numbers are reused before they are computed again (seconds).
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=30)
