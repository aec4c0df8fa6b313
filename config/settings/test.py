"""pytest: the real PostgreSQL and Redis (never SQLite or fakeredis), fast hashing, local mail."""

from .base import *  # noqa: F403
from .base import RQ_QUEUES, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-insecure-key")
DEBUG = False
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/postback_portal"),
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests get their own Redis database so they never touch a developer's queues.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/15")
for queue in RQ_QUEUES.values():
    queue["URL"] = REDIS_URL
POSTBACK_RETRY_JITTER = 0.0
# Tests reach their local receivers through the allow-list, as docs/spec.md §6 intends.
POSTBACK_ALLOWED_NETWORKS = env.list("POSTBACK_ALLOWED_NETWORKS", default=["127.0.0.0/8"])
POSTBACK_CONNECT_TIMEOUT = 2.0
POSTBACK_TOTAL_TIMEOUT = 3.0
POSTBACK_SWEEP_INTERVAL = 0.2
# Each ingest count reaches Redis before its request answers (tests scrape right after).
METRICS_FLUSH_SECONDS = 0.0
# Static files straight from the apps (no collectstatic in a fresh checkout), as runserver does.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
