from litequeue import states


def test_add_runs_through_a_real_worker_and_get_returns_its_result(app, run_burst):
    from tests.support.tasks import add

    result = add.delay(2, 3)
    assert result.job_state == states.QUEUED
    run_burst("-c", "2")
    assert result.get(timeout=10) == 5
    assert result.state == states.SUCCESS
