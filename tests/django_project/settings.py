"""A tiny Django project for the tests: one app (shop), its models and migrations, litequeue as
the task backend. The databases come from the environment (the test's temporary files, or the
PostgreSQL test server)."""

import os

SECRET_KEY = "tests-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
if os.environ.get("LQ_DJANGO_PG"):
    from urllib.parse import urlsplit

    _pg = urlsplit(os.environ["LQ_DJANGO_PG"])
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": _pg.path.lstrip("/"),
                             "USER": _pg.username, "PASSWORD": _pg.password or "", "HOST": _pg.hostname,
                             "PORT": _pg.port or 5432}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["LQ_TEST_DB"]}}
TASKS = {
    "default": {
        "BACKEND": "litequeue.contrib.django.backend.LiteQueueBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"APP": "shop.queue.app", "ENQUEUE_IN": "default"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
