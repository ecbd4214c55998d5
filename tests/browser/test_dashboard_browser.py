"""Click through the dashboard in a real headless Chromium, against a real dashboard process and
real workers: a failing job appears live, its traceback shows, retry makes it succeed, revoke
stops a scheduled job, a paused queue stops being worked. Each page is saved as a screenshot."""

from __future__ import annotations

import time

from litequeue import states
from tests.browser.conftest import screenshot
from tests.support import tasks
from tests.support.tasks import app as _support_app  # noqa: E402

DEFAULT = _support_app.conf.task_default_queue  # the queue jobs sent without one go to

WAIT = 60  # seconds: generous, only to avoid hanging; every wait is on what the page shows


def wait_for(driver, condition, timeout: float = WAIT):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
    except TimeoutException:
        screenshot(driver, "failed-wait")
        shown = driver.find_element("tag name", "main").text
        raise AssertionError(f"timed out at {driver.current_url}:\n{shown}") from None


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(driver, selector: str) -> str:
    found = css(driver, selector)
    return found[0].text if found else ""


def open_page(driver, dashboard, fragment: str, loaded: str) -> None:
    driver.get(dashboard.url + fragment)
    wait_for(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-loaded") == loaded)
    wait_for(driver, lambda d: "live" in text_of(d, "#live"))  # the event stream is connected


def click(driver, selector: str) -> None:
    """Click the element, found again if a live refresh replaced it meanwhile."""
    def clicked(d) -> bool:
        found = css(d, selector)
        if found:
            found[0].click()  # a stale element raises, and the wait tries again
        return bool(found)

    wait_for(driver, clicked)


def click_and_confirm(driver, action: str) -> None:
    click(driver, f"button[data-action={action}]")
    wait_for(driver, lambda d: css(d, "dialog[open]"))
    click(driver, "#confirm-ok")
    wait_for(driver, lambda d: not css(d, "dialog[open]"))


def test_a_failing_job_appears_live_shows_its_traceback_and_retry_makes_it_succeed(
        app, dashboard, browser, start_worker, ledger):
    start_worker("-c", "1")
    open_page(browser, dashboard, "#/jobs?state=FAILURE", "jobs")
    browser.execute_script("window.__not_reloaded = true")
    sent = tasks.fails_first_run.delay("browser-retry")
    row = f"tr[data-row='{sent.id}']"
    wait_for(browser, lambda d: css(d, row))  # arrived through the live update, without a reload
    assert browser.execute_script("return window.__not_reloaded") is True
    assert "FAILURE" in text_of(browser, row) and "first run fails" in text_of(browser, row)
    screenshot(browser, "jobs")

    click(browser, f"{row} a[data-job]")
    wait_for(browser, lambda d: "FlakyError" in text_of(d, "#traceback"))
    assert "first run fails" in text_of(browser, "#traceback")
    screenshot(browser, "job-failed")

    click_and_confirm(browser, "retry")
    wait_for(browser, lambda d: '"ran again"' in text_of(d, "#result"))  # the worker ran it again: live
    assert sent.state == states.SUCCESS and sent.result == "ran again"
    screenshot(browser, "job-succeeded")


def test_revoke_stops_a_scheduled_job_after_confirmation(app, dashboard, browser, start_worker):
    later = tasks.add.apply_async((2, 2), countdown=3600)
    open_page(browser, dashboard, f"#/job/{later.id}", "job")
    click(browser, "button[data-action=revoke]")
    wait_for(browser, lambda d: css(d, "dialog[open]"))
    click(browser, "#confirm-cancel")  # asked first: cancelling changes nothing
    wait_for(browser, lambda d: not css(d, "dialog[open]"))
    assert later.job_state == states.SCHEDULED
    click_and_confirm(browser, "revoke")
    wait_for(browser, lambda d: css(d, "[data-state=REVOKED]"))
    assert later.state == states.REVOKED
    screenshot(browser, "job-revoked")


def test_a_paused_queue_stops_being_worked_until_resumed(app, dashboard, browser, start_worker, ledger):
    start_worker("-c", "1")
    open_page(browser, dashboard, "#/queues", "queues")
    wait_for(browser, lambda d: css(d, f"tr[data-queue={DEFAULT}] button[data-action=pause]"))
    click_and_confirm(browser, "pause")
    wait_for(browser, lambda d: css(d, f"tr[data-queue={DEFAULT}] [data-state=paused]"))
    held = tasks.record.delay("held")
    other = tasks.record.apply_async(("other",), queue="other")
    assert other.get(timeout=WAIT) is None  # the worker claims from every queue: it took 'other' ...
    assert held.job_state == states.QUEUED  # ... and, claiming after the pause, never took 'held'
    wait_for(browser, lambda d: "1" in text_of(d, f"tr[data-queue={DEFAULT}] td:nth-child(2)"))
    screenshot(browser, "queues-paused")
    click_and_confirm(browser, "resume")
    held.get(timeout=WAIT)
    assert held.state == states.SUCCESS


def test_every_page_renders_and_is_saved_as_a_screenshot(app, dashboard, browser, start_worker):
    from litequeue.schedules import Schedule

    Schedule(app).add("every-minute", "tests.support.tasks.add", 60.0, args=(1, 2))
    for i in range(12):
        tasks.add.delay(i, i)
    tasks.fail.delay("for the screenshot")
    start_worker("-c", "1", "--burst").wait(WAIT)
    start_worker("-c", "2", "-n", "steady@here")
    slow = tasks.slow_record.delay("busy", 30)
    wait_for(browser, lambda d: slow.state == states.STARTED)
    for fragment, page in (("#/", "overview"), ("#/queues", "queues"), ("#/workers", "workers"),
                           ("#/jobs", "jobs"), ("#/schedules", "schedules")):
        open_page(browser, dashboard, fragment, page)
        time.sleep(0.3)  # let the chart and tables settle for the picture only (nothing is asserted on it)
        screenshot(browser, page)
    open_page(browser, dashboard, "#/workers", "workers")
    assert slow.id in text_of(browser, "tr[data-worker='steady@here']")
    open_page(browser, dashboard, "#/schedules", "schedules")
    assert "every-minute" in text_of(browser, "tr[data-schedule=every-minute]")
    slow.revoke(terminate=True)


def test_a_job_page_shows_its_workflow(app, dashboard, browser):
    from litequeue import chord
    from tests.support import canvas_tasks

    c = chord([tasks.add.s(i, i) for i in range(3)], canvas_tasks.xsum.s())()
    open_page(browser, dashboard, f"#/job/{c.parent.results[1].id}", "job")
    shown = wait_for(browser, lambda d: text_of(d, "#workflow"))
    assert "Chord header" in shown and c.parent.id in shown and "0 of 3 done" in shown
    screenshot(browser, "job-workflow")


def test_reserved_and_held_back_jobs_are_shown_on_the_queue_and_job_pages(app, flow_app, dashboard, browser):
    from litequeue.flow import code_limits
    from tests.support.flow_tasks import hourly

    for i in range(3):
        tasks.add.apply_async((i, i), queue="busy")
    reserved = app.store.claim("w1@here/abc", ["busy"], (), 2, 600)  # a worker's prefetch: not begun
    flow_app.store.declare_limits(*code_limits(flow_app))
    held = [hourly.delay("h") for _ in range(3)]
    flow_app.store.claim("w1@here/abc", [flow_app.conf.task_default_queue], (), 10, 600)  # one starts, 2 held
    open_page(browser, dashboard, "#/queues", "queues")
    wait_for(browser, lambda d: text_of(d, "tr[data-queue=busy] td[data-col=reserved]") == "2")
    shown = wait_for(browser, lambda d: text_of(d, f"tr[data-held='task {hourly.name}']"))
    assert "rate limited until" in shown and " 2 " in f" {shown} "
    screenshot(browser, "queues-held-back")
    in_store = {j.task_id for j in app.store.list_jobs([states.RESERVED], limit=100)}
    assert {j.task_id for j in reserved} < in_store and len(in_store) == 3  # and the hourly job let through
    open_page(browser, dashboard, "#/jobs?state=RESERVED", "jobs")
    wait_for(browser, lambda d: {e.get_attribute("data-row") for e in css(d, "tr[data-row]")} == in_store)
    waiting = next(r for r in held if r.job_state == states.QUEUED)
    open_page(browser, dashboard, f"#/job/{waiting.id}", "job")
    reason = wait_for(browser, lambda d: text_of(d, "[data-held-back=rate]"))
    assert reason.startswith("rate limited until")
    screenshot(browser, "job-held-back")
