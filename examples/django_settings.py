"""Settings of the one-file Django site in django_example.py (a real project has its own)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "example-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes"]
# The site's tables and litequeue's share one SQLite file (PostgreSQL: one database).
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(HERE, "django_example.sqlite")}}
TASKS = {
    "default": {
        "BACKEND": "litequeue.contrib.django.backend.LiteQueueBackend",
        # The project's litequeue app; with ENQUEUE_IN, a task enqueued inside atomic() is
        # written in the same transaction as the models.
        "OPTIONS": {"APP": "django_example.app", "ENQUEUE_IN": "default"},
    }
}
LITEQUEUE_TASK_MODULES = ["django_example"]  # besides each app's tasks.py: where @task functions are
