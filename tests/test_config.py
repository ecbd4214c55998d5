"""Settings: Celery's key names, validated when set, with messages that name the fix."""

from __future__ import annotations

import types

import pytest

from litequeue import LiteQueue
from litequeue.config import Settings
from litequeue.errors import ConfigurationError, LiteQueueError


def test_defaults_are_celerys():
    conf = Settings()
    assert conf.task_serializer == "json"
    assert conf.accept_content == ("json",)
    assert conf.task_default_queue == "celery"
    assert conf.result_expires == 86400.0
    assert conf.task_acks_late is True


def test_unknown_key_is_refused_with_a_suggestion():
    conf = Settings()
    with pytest.raises(ConfigurationError, match="Unknown setting 'task_serialiser'.*'task_serializer'"):
        conf.task_serialiser = "json"
    with pytest.raises(ConfigurationError):
        conf.update(no_such_setting=1)


def test_unknown_key_in_the_app_constructor_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="result_expire"):
        LiteQueue(tmp_path / "x.sqlite", result_expire=10)


@pytest.mark.parametrize("key, value", [
    ("task_serializer", "yaml"),
    ("result_serializer", "xml"),
    ("task_acks_late", "yes"),
    ("task_always_eager", 1),
    ("result_expires", -1),
    ("result_expires", "1 day"),
    ("worker_lease_seconds", 0),
    ("sqlite_busy_timeout", True),
    ("sqlite_synchronous", "sometimes"),
    ("task_default_max_retries", -1),
    ("task_default_max_retries", 1.5),
    ("task_default_queue", ""),
    ("task_default_exchange_type", "fanout"),
    ("task_publish_retry_policy", {"max_retires": 3}),
    ("task_publish_retry_policy", 3),
])
def test_bad_values_are_refused_naming_the_key(key, value):
    conf = Settings()
    before = getattr(conf, key)
    with pytest.raises(ConfigurationError) as info:
        setattr(conf, key, value)
    assert isinstance(info.value, LiteQueueError)
    assert key in str(info.value)
    assert getattr(conf, key) == before  # the bad value was not stored


def test_good_values_are_stored():
    conf = Settings()
    conf.update({"result_expires": 5, "sqlite_synchronous": "NORMAL"}, task_acks_late=False)
    assert conf.result_expires == 5
    assert conf.sqlite_synchronous == "normal"
    assert conf.task_acks_late is False
    conf["task_default_max_retries"] = None
    assert conf["task_default_max_retries"] is None


def test_publish_retry_policy_is_completed_with_defaults():
    conf = Settings()
    conf.task_publish_retry_policy = {"max_retries": 7}
    assert conf.task_publish_retry_policy["max_retries"] == 7
    assert conf.task_publish_retry_policy["interval_max"] == 0.2


def test_accept_content_takes_a_single_name():
    conf = Settings()
    conf.accept_content = "pickle"
    assert conf.accept_content == ("pickle",)


def test_celery3_upper_case_names_are_translated():
    conf = Settings()
    conf.CELERY_TASK_SERIALIZER = "pickle"
    conf.CELERY_TASK_RESULT_EXPIRES = 60
    assert conf.task_serializer == "pickle"
    assert conf.result_expires == 60
    assert conf.CELERY_TASK_SERIALIZER == "pickle"


def test_from_object_reads_known_keys_and_ignores_other_upper_case_names():
    module = types.SimpleNamespace(
        result_expires=30, CELERY_ACKS_LATE=False, SOME_CONSTANT=1, _private=2,
    )
    conf = Settings()
    conf.from_object(module)
    assert conf.result_expires == 30
    assert conf.task_acks_late is False


def test_from_object_validates_what_it_reads():
    conf = Settings()
    with pytest.raises(ConfigurationError, match="result_expires"):
        conf.from_object(types.SimpleNamespace(result_expires=-5))


def test_from_object_with_a_module_name_that_cannot_be_imported():
    with pytest.raises(ConfigurationError, match="no_such_settings_module"):
        Settings().from_object("no_such_settings_module")


def test_app_config_from_object_and_conf_update(tmp_path):
    app = LiteQueue(tmp_path / "x.sqlite", result_expires=10)
    try:
        assert app.conf.result_expires == 10
        app.config_from_object(types.SimpleNamespace(task_default_queue="jobs"))
        app.conf.update(task_default_priority=3)
        assert (app.conf.task_default_queue, app.conf.task_default_priority) == ("jobs", 3)
    finally:
        app.close()


def test_reading_an_unknown_key_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_key"):
        Settings().no_such_key  # noqa: B018


def test_a_bad_default_priority_is_refused_when_set():
    from litequeue import LiteQueue
    from litequeue.errors import ConfigurationError

    app = LiteQueue()
    with pytest.raises(ConfigurationError, match="task_default_priority"):
        app.conf.task_default_priority = "high"
    assert app.conf.task_default_priority == 0
