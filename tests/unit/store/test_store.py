"""What is particular to the sqlite store: it stays private on disk, migrates its schema, lets two
writers share the file and reports a damaged file as one actionable error. What every backend must
do (round trips, deploy numbering, transactions...) is in test_store_contract.py."""

import os
import sqlite3
import stat
import threading

import pytest

from orchestr.errors import OrchestrError
from orchestr.store.store import (
    SCHEMA_VERSION,
    Store,
    command_line,
    default_store_path,
)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "orchestr.db") as opened:
        yield opened


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ORCHESTR_STORE", raising=False)
    monkeypatch.setenv("ORCHESTR_STATE_DIR", str(tmp_path))
    assert default_store_path() == str(tmp_path / "orchestr.db")
    monkeypatch.setenv("ORCHESTR_STORE", str(tmp_path / "elsewhere.db"))
    assert default_store_path() == str(tmp_path / "elsewhere.db")
    monkeypatch.delenv("ORCHESTR_STORE")
    monkeypatch.delenv("ORCHESTR_STATE_DIR")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_store_path() == str(tmp_path / ".local/state/orchestr/orchestr.db")


def test_new_file_is_0600_in_new_0700_dirs(tmp_path):
    path = tmp_path / "state" / "deeper" / "orchestr.db"
    with Store.open(path) as opened:
        opened.audit("apply", "web", "something private")
        # sqlite gives its WAL and shared-memory files (present while open) the file's mode
        sides = list(path.parent.glob("orchestr.db-*"))
        assert sides
        for side in sides:
            assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_wal_and_busy_timeout(store):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_migration_from_an_empty_file(tmp_path):
    path = tmp_path / "orchestr.db"
    path.write_bytes(b"")
    with Store.open(path) as opened:
        assert opened._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        opened.set_service("web", {"image": "nginx"}, "h1", None, ["a"])
    # opening again finds the schema current and keeps the data
    with Store.open(path) as opened:
        assert opened.get_service("web").spec == {"image": "nginx"}


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "orchestr.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(OrchestrError, match="schema version") as caught:
        Store.open(path)
    assert "upgrade orchestr" in caught.value.hint


def test_a_corrupt_file_is_one_error_naming_it(tmp_path):
    path = tmp_path / "orchestr.db"
    path.write_bytes(b"this is certainly not sqlite\n" * 200)
    with pytest.raises(OrchestrError) as caught:
        Store.open(path)
    line = caught.value.one_line()
    assert str(path) in line
    assert "move it aside" in line and "re-applying" in line


def test_the_hint_quotes_the_path(tmp_path):
    path = tmp_path / "my state" / "orchestr.db"
    path.parent.mkdir()
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(OrchestrError) as caught:
        Store.open(path)
    assert f"mv '{path}' '{path}.broken'" in caught.value.hint


def test_an_unwritable_place_is_one_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OrchestrError, match="cannot create the store"):
        Store.open(blocker / "orchestr.db")


def test_spec_is_stored_with_sorted_keys(store):
    store.set_service("web", {"b": 1, "a": 2}, "h", None, [])
    (raw,) = store._db.execute("SELECT spec FROM services").fetchone()
    assert raw == '{"a":2,"b":1}'


def test_command_line_is_kept_short():
    assert command_line(["apply", "site.yml"]) == "orchestr apply site.yml"
    long = command_line(["x" * 500])
    assert len(long) == 200 and long.endswith("...")


def test_two_stores_on_one_file_write_concurrently(tmp_path):
    path = tmp_path / "orchestr.db"
    Store.open(path).close()
    rounds = 60
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            with Store.open(path) as mine:
                start.wait()
                for index in range(rounds):
                    mine.audit("tick", name, str(index), user=name, command="orchestr test")
                    mine.begin_deploy("shared", {"by": name, "i": index}, "h", name, "orchestr")
                    # read-modify-write: only atomic if the transaction holds the write lock
                    with mine.transaction():
                        current = mine.get_service("counter")
                        count = current.spec["count"] if current else 0
                        mine.set_service("counter", {"count": count + 1}, "h", None, [])
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    with Store.open(path) as opened:
        assert opened.get_service("counter").spec["count"] == 2 * rounds
        assert len(opened.audit_log()) == 2 * rounds
        numbers = [deploy.number for deploy in opened.deploys("shared")]
        assert numbers == list(range(1, 2 * rounds + 1))


def test_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "orchestr.db"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o640)
    os.close(fd)
    os.chmod(path, 0o640)
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
