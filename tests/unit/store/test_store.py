"""The store keeps what it is given, numbers deploys per service, stays private on disk, lets two
writers share the file and reports a damaged file as one actionable error."""

import os
import sqlite3
import stat
import threading
import time

import pytest

from orchestr.errors import OrchestrError
from orchestr.store.store import (
    SCHEMA_VERSION,
    HealthRecord,
    SlotRecord,
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


def test_services_round_trip(store):
    assert store.get_service("web") is None
    spec = {"image": "nginx:1.27", "replicas": 3, "env": {"B": "2", "A": "1"}}
    before = time.time()
    store.set_service("web", spec, "hash-1", None, ["h1", "h2"])
    store.set_service("api", {"image": "api"}, "hash-a", 7, [])
    web = store.get_service("web")
    assert web.spec == spec
    assert (web.spec_hash, web.deploy_id, web.hosts) == ("hash-1", None, ("h1", "h2"))
    assert web.updated_at >= before
    store.set_service("web", {"image": "nginx:1.28"}, "hash-2", 3, ["h3"])
    web = store.get_service("web")
    assert (web.spec, web.spec_hash, web.deploy_id, web.hosts) == (
        {"image": "nginx:1.28"},
        "hash-2",
        3,
        ("h3",),
    )
    assert [service.name for service in store.services()] == ["api", "web"]


def test_spec_is_stored_with_sorted_keys(store):
    store.set_service("web", {"b": 1, "a": 2}, "h", None, [])
    (raw,) = store._db.execute("SELECT spec FROM services").fetchone()
    assert raw == '{"a":2,"b":1}'


def test_slots_round_trip_and_go_with_their_service(store):
    store.set_service("web", {}, "h", None, ["h1"])
    store.set_slot("web", "1", 1, "h1")
    store.set_slot("web", "2", 1, "h2")
    store.set_slot("db", "h1", 4, "h1")
    store.set_slot("web", "1", 2, "h3")  # replaced: a new epoch on another host
    assert store.slots("web") == {
        "1": SlotRecord("web", "1", 2, "h3"),
        "2": SlotRecord("web", "2", 1, "h2"),
    }
    store.remove_slot("web", "2")
    assert list(store.slots("web")) == ["1"]
    assert store.all_slots() == [SlotRecord("db", "h1", 4, "h1"), SlotRecord("web", "1", 2, "h3")]
    store.set_health("web", "web.1", HealthRecord(1, 0, "healthy", 1.0, 0))
    store.remove_service("web")
    assert store.get_service("web") is None
    assert store.slots("web") == {}
    assert store.health("web") == {}
    assert store.slots("db") != {}


def test_deploys_are_numbered_per_service(store):
    first = store.begin_deploy("web", {"v": 1}, "h1", "alice", "orchestr apply web.yml")
    other = store.begin_deploy("db", {"v": 1}, "d1", "alice", "orchestr apply db.yml")
    second = store.begin_deploy("web", {"v": 2}, "h2", "bob", "orchestr apply web.yml")
    assert (first.number, other.number, second.number) == (1, 1, 2)
    assert len({first.id, other.id, second.id}) == 3
    assert first.status == "running" and first.finished_at is None
    store.finish_deploy(first.id, "succeeded")
    store.finish_deploy(second.id, "failed", "web.2 never became healthy")
    history = store.deploys("web")
    assert [(d.number, d.status, d.spec) for d in history] == [
        (1, "succeeded", {"v": 1}),
        (2, "failed", {"v": 2}),
    ]
    assert history[1].detail == "web.2 never became healthy"
    assert history[1].finished_at >= history[1].started_at
    assert (history[1].user, history[1].command) == ("bob", "orchestr apply web.yml")
    assert store.deploy("web", 2) == history[1]
    assert store.deploy("web", 3) is None
    assert store.deploy_by_id(other.id).service == "db"


def test_begin_deploy_returns_what_is_stored(store):
    begun = store.begin_deploy("web", {"ports": (80, 443)}, "h", "alice", "orchestr apply")
    assert begun == store.deploy("web", 1)


def test_finish_deploy_rejects_nonsense(store):
    begun = store.begin_deploy("web", {}, "h", "alice", "orchestr apply")
    with pytest.raises(ValueError):
        store.finish_deploy(begun.id, "running")
    with pytest.raises(ValueError):
        store.finish_deploy(begun.id, "done")
    with pytest.raises(KeyError):
        store.finish_deploy(begun.id + 100, "failed")


def test_last_good_deploy(store):
    assert store.last_good_deploy("web") is None
    statuses = ["succeeded", "succeeded", "failed", "rolled back", "paused"]
    for index, status in enumerate(statuses):
        begun = store.begin_deploy("web", {"v": index + 1}, f"h{index}", "alice", "orchestr")
        store.finish_deploy(begun.id, status)
    store.begin_deploy("web", {"v": 6}, "h5", "alice", "orchestr")  # still running
    assert store.last_good_deploy("web").number == 2
    assert store.last_good_deploy("web", before=2).number == 1
    assert store.last_good_deploy("web", before=1) is None
    assert store.last_good_deploy("db") is None


def test_drained_hosts(store):
    assert store.unschedulable() == {}
    store.set_schedulable("h1", False, "disk replacement")
    store.set_schedulable("h2", False)
    store.set_schedulable("h3", True)
    assert store.unschedulable() == {"h1": "disk replacement", "h2": ""}
    store.set_schedulable("h1", True)
    assert store.unschedulable() == {"h2": ""}


def test_audit_log(store, monkeypatch):
    store.audit("apply", "web", "deploy 1", user="alice", command="orchestr apply web.yml")
    monkeypatch.setattr("sys.argv", ["orchestr", "drain", "h 1"])
    store.audit("drain", None, "h1 drained")
    store.audit("apply", "db", "deploy 1", user="bob", command="orchestr apply db.yml")
    entries = store.audit_log()
    assert [entry.action for entry in entries] == ["apply", "drain", "apply"]
    assert entries[0].user == "alice"
    assert entries[1].command == "orchestr drain 'h 1'"
    assert entries[1].user  # the login name, whatever it is here
    assert [entry.detail for entry in store.audit_log(service="web")] == ["deploy 1"]
    assert [entry.action for entry in store.audit_log(limit=2)] == ["drain", "apply"]
    assert store.audit_log(since=time.time() + 60) == []
    assert len(store.audit_log(since=entries[1].at)) == 2


def test_command_line_is_kept_short():
    assert command_line(["apply", "site.yml"]) == "orchestr apply site.yml"
    long = command_line(["x" * 500])
    assert len(long) == 200 and long.endswith("...")


def test_events(store):
    store.record_event("unhealthy", "web.1 failed 3 checks", host="h1", service="web", at=100.0)
    store.record_event("unreachable", "h2 did not answer", host="h2", at=200.0)
    store.record_event("note", "no host or service")
    events = store.events()
    assert [(e.kind, e.host, e.service) for e in events] == [
        ("unhealthy", "h1", "web"),
        ("unreachable", "h2", None),
        ("note", None, None),
    ]
    assert events[0].at == 100.0 and events[2].at > 200.0
    assert [e.kind for e in store.events(since=150.0)] == ["unreachable", "note"]
    assert [e.kind for e in store.events(limit=1)] == ["note"]


def test_health_counters(store):
    assert store.health("web") == {}
    record = HealthRecord(successes=3, failures=0, status="healthy", since=10.0, restarts=1)
    store.set_health("web", "web.1", record)
    store.set_health("web", "web.2", HealthRecord(0, 2, "unhealthy", 20.0, 0))
    store.set_health("web", "web.1", HealthRecord(4, 0, "healthy", 10.0, 1))
    assert store.health("web") == {
        "web.1": HealthRecord(4, 0, "healthy", 10.0, 1),
        "web.2": HealthRecord(0, 2, "unhealthy", 20.0, 0),
    }
    store.clear_health("web", "web.2")
    assert list(store.health("web")) == ["web.1"]


def test_transaction_is_all_or_nothing(store):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        store.set_service("web", {}, "h", None, [])
        store.set_slot("web", "1", 1, "h1")
        raise Boom
    assert store.get_service("web") is None and store.slots("web") == {}
    with store.transaction():
        store.set_service("web", {}, "h", None, [])
        with store.transaction():
            store.set_slot("web", "1", 1, "h1")
    assert store.get_service("web") is not None and "1" in store.slots("web")


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


def test_one_store_shared_by_threads(store):
    def writer(name: str) -> None:
        for index in range(50):
            store.record_event("tick", f"{name} {index}")

    threads = [threading.Thread(target=writer, args=(str(n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(store.events()) == 200


def test_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "orchestr.db"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o640)
    os.close(fd)
    os.chmod(path, 0o640)
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
