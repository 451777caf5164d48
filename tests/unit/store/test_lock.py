"""The store lock lets one run in, tells the next who is in the way, waits when asked to, and is
never blocked by a holder that died."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestr.store.lock import LockHeld, StoreLock

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "state" / "orchestr.db")


def test_the_lock_file_holds_the_holders_details(store_path):
    with StoreLock(store_path).acquire("apply", "orchestr apply site.yml") as lock:
        assert lock.held and lock.stale_holder is None
        details = json.loads(Path(lock.path).read_text())
        assert details["pid"] == os.getpid()
        assert details["hostname"] == socket.gethostname()
        assert details["command"] == "orchestr apply site.yml"
        assert details["purpose"] == "apply"
        assert details["user"]
        assert abs(details["since"] - time.time()) < 60
        assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o600
    assert not lock.held
    # a clean release leaves nothing behind, so the next run has no stale holder to report
    assert Path(lock.path).read_text() == ""
    again = StoreLock(store_path).acquire("status", "orchestr status")
    assert again.stale_holder is None
    again.release()
    again.release()  # idempotent


def test_second_acquirer_fails_at_once_naming_the_holder(store_path):
    first = StoreLock(store_path).acquire("apply", "orchestr apply site.yml")
    try:
        started = time.monotonic()
        with pytest.raises(LockHeld) as caught:
            StoreLock(store_path).acquire("drain", "orchestr drain h1", wait=0)
        assert time.monotonic() - started < 0.5
        error = caught.value
        assert error.exit_code == 1
        assert error.holder.pid == os.getpid()
        line = error.one_line()
        assert line.startswith(f"the store is locked by pid {os.getpid()} (")
        assert f"@{socket.gethostname()}, `orchestr apply site.yml`, apply) since " in line
        assert "--lock-wait SECONDS" in line
    finally:
        first.release()


def test_waits_and_gets_the_lock_when_the_holder_releases(store_path):
    first = StoreLock(store_path).acquire("apply", "orchestr apply a.yml")
    releaser = threading.Timer(0.4, first.release)
    releaser.start()
    try:
        started = time.monotonic()
        second = StoreLock(store_path).acquire("apply", "orchestr apply b.yml", wait=10)
        waited = time.monotonic() - started
        assert 0.3 < waited < 5
        assert second.stale_holder is None  # the first one released cleanly
        details = json.loads(Path(second.path).read_text())
        assert details["command"] == "orchestr apply b.yml"
        second.release()
    finally:
        releaser.join()


def test_gives_up_after_the_wait(store_path):
    with StoreLock(store_path).acquire("apply", "orchestr apply a.yml"):
        started = time.monotonic()
        with pytest.raises(LockHeld, match="waited 0.3 s"):
            StoreLock(store_path).acquire("apply", "orchestr apply b.yml", wait=0.3)
        assert 0.25 < time.monotonic() - started < 2


HOLDER = """
import sys, time
from orchestr.store.lock import StoreLock
StoreLock(sys.argv[1]).acquire("apply", "orchestr apply doomed.yml")
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_holder_leaves_the_lock_free_and_is_reported(store_path):
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_path], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as caught:
            StoreLock(store_path).acquire("apply", "orchestr apply mine.yml")
        assert caught.value.holder.pid == child.pid
        assert f"pid {child.pid}" in caught.value.one_line()
        assert "doomed.yml" in caught.value.one_line()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    # no wait needed: the kernel dropped the flock with the process
    lock = StoreLock(store_path).acquire("apply", "orchestr apply mine.yml")
    try:
        stale = lock.stale_holder
        assert stale is not None
        assert stale.pid == child.pid and stale.command == "orchestr apply doomed.yml"
        assert stale.is_gone()
        assert json.loads(Path(lock.path).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


def test_half_written_details_do_not_break_the_message(store_path):
    first = StoreLock(store_path).acquire("apply", "orchestr apply a.yml")
    try:
        Path(first.path).write_text('{"pid": 12')  # as if read mid-write
        with pytest.raises(LockHeld, match="locked by another orchestr run"):
            StoreLock(store_path).acquire("apply", "orchestr apply b.yml")
    finally:
        first.release()


def test_acquire_twice_is_a_bug(store_path):
    lock = StoreLock(store_path).acquire("apply", "orchestr apply")
    try:
        with pytest.raises(RuntimeError):
            lock.acquire("apply", "orchestr apply")
    finally:
        lock.release()
