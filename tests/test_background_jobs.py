"""LatestJob (explorer.runtime.background): newest wins, a stopped job says so, and `finished` means idle."""

import threading

from explorer.runtime.background import LatestJob
from trainer.errors import Stopped

WAIT_MS = 30_000


def blocking(release: threading.Event, value):
    """Work that waits until released (or asked to stop), reporting once, then returns `value`."""
    def work(progress, should_stop):
        progress("waiting", 0.5)
        while not release.wait(0.01):
            if should_stop():
                raise Stopped()
        return value
    return work


def test_a_newer_request_stops_the_running_one_and_finished_comes_once_idle(qtbot):
    jobs = LatestJob("test jobs")
    log = []
    jobs.sig_done.connect(lambda token, result: log.append(("done", token, result)))
    jobs.sig_stopped.connect(lambda token: log.append(("stopped", token)))
    jobs.sig_failed.connect(lambda token, message: log.append(("failed", token, message)))
    jobs.sig_finished.connect(lambda: log.append(("finished", jobs.running)))
    never, now = threading.Event(), threading.Event()
    now.set()
    jobs.submit(1, blocking(never, "one"))
    jobs.submit(2, blocking(never, "two"))  # waits; asks 1 to stop
    jobs.submit(3, blocking(now, "three"))  # replaces 2, which never runs
    assert jobs.running
    qtbot.waitUntil(lambda: ("finished", False) in log, timeout=WAIT_MS)
    assert log == [("done", 3, "three"), ("finished", False)]  # 1 stopped, superseded: nothing of it arrives

    log.clear()
    jobs.submit(4, blocking(never, "four"))
    jobs.cancel()
    qtbot.waitUntil(lambda: bool(log) and log[-1][0] == "finished", timeout=WAIT_MS)
    assert log == [("stopped", 4), ("finished", False)]

    log.clear()
    jobs.submit(5, lambda progress, should_stop: 1 / 0)
    qtbot.waitUntil(lambda: bool(log) and log[-1][0] == "finished", timeout=WAIT_MS)
    assert log == [("failed", 5, "ZeroDivisionError: division by zero"), ("finished", False)]

    # dropped: what the running submission still sends (its progress, its result) never arrives
    log.clear()
    release = threading.Event()
    jobs.sig_progress.connect(lambda token, message, fraction: log.append(("progress", token)))
    jobs.submit(6, blocking(release, "six"))
    qtbot.waitUntil(lambda: ("progress", 6) in log, timeout=WAIT_MS)
    jobs.drop()
    release.set()
    qtbot.waitUntil(lambda: log[-1][0] == "finished", timeout=WAIT_MS)
    assert log == [("progress", 6), ("finished", False)]
    assert jobs.shutdown()
