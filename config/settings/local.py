"""Developer machine and `make run`: debug on, an insecure key of its own."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-insecure-key-not-for-production")
