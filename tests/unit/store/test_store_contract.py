"""The StateStore contract: what every backend must do, run against each of them. A new backend
adds one factory to FACTORIES; sqlite-only behaviour (file modes, migrations, a damaged file)
is tested in test_store.py. open_store's URL parsing is tested at the end."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestr.errors import OrchestrError
from orchestr.store.interface import StateStore, StoreURL, open_store, parse_store_url
from orchestr.store.store import (
    DEPLOY_STATUSES,
    HealthRecord,
    SlotRecord,
    Store,
    StoreError,
    command_line,
)


def _sqlite(directory: Path) -> StateStore:
    return Store.open(directory / "orchestr.db")


# Each factory gets an empty directory of its own and returns a fresh, empty store; a remote
# backend can use the directory's name as its key prefix so stores never see each other.
FACTORIES: dict[str, Callable[[Path], StateStore]] = {"sqlite": _sqlite}

# The fixtures are per test, not per example: property tests make a fresh store per example.
PROPERTIES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(params=list(FACTORIES))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], StateStore]]:
    """Makes fresh, empty stores of one backend; closes every one of them after the test."""
    factory = FACTORIES[request.param]
    opened: list[StateStore] = []

    def fresh() -> StateStore:
        directory = tmp_path / f"{request.param}-{len(opened)}"
        directory.mkdir()
        opened.append(factory(directory))
        return opened[-1]

    yield fresh
    for store in opened:
        store.close()  # again for those a test closed: close() may be repeated


@pytest.fixture
def store(backend: Callable[[], StateStore]) -> StateStore:
    return backend()


# --- the interface itself ---------------------------------------------------------------------


def _members() -> list[str]:
    """The Protocol's attributes and methods, the context-manager pair included."""
    methods = [
        name
        for name, value in vars(StateStore).items()
        if callable(value) and (not name.startswith("_") or name in ("__enter__", "__exit__"))
    ]
    return sorted([*StateStore.__annotations__, *methods])


def test_a_backend_is_a_state_store(store: StateStore) -> None:
    assert isinstance(store, StateStore)
    assert isinstance(store.path, str) and store.path


def test_a_backend_has_the_interfaces_signatures(store: StateStore) -> None:
    # isinstance only checks that the names exist; callers pass arguments by keyword too.
    members = _members()
    assert "path" in members and "last_good_deploy" in members and "__exit__" in members
    for name in members:
        if name == "path":
            continue
        wanted = inspect.signature(getattr(StateStore, name))
        actual = inspect.signature(getattr(type(store), name))
        shape = [(p.name, p.kind, p.default) for p in wanted.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in actual.parameters.values()] == shape, name


def test_with_closes_and_close_may_be_repeated(backend: Callable[[], StateStore]) -> None:
    with backend() as opened:
        opened.record_event("note", "inside")
    opened.close()


# --- services ---------------------------------------------------------------------------------


def test_services_round_trip(store: StateStore) -> None:
    assert store.get_service("web") is None
    assert store.services() == []
    spec = {"image": "nginx:1.27", "replicas": 3, "env": {"B": "2", "A": "1"}}
    before = time.time()
    store.set_service("web", spec, "hash-1", None, ["h1", "h2"])
    store.set_service("api", {"image": "api"}, "hash-a", 7, [])
    web = store.get_service("web")
    assert web is not None
    assert (web.name, web.spec, web.spec_hash, web.deploy_id, web.hosts) == (
        "web", spec, "hash-1", None, ("h1", "h2"),
    )  # fmt: skip
    assert web.updated_at >= before
    store.set_service("web", {"image": "nginx:1.28"}, "hash-2", 3, ("h3",))
    again = store.get_service("web")
    assert again is not None
    assert (again.spec, again.spec_hash, again.deploy_id, again.hosts) == (
        {"image": "nginx:1.28"}, "hash-2", 3, ("h3",),
    )  # fmt: skip
    assert again.updated_at >= web.updated_at
    assert [service.name for service in store.services()] == ["api", "web"]
    assert store.services()[1] == again


def test_a_spec_comes_back_as_its_json_round_trip(store: StateStore) -> None:
    store.set_service("web", {"ports": (80, 443), "nested": {"z": [1, (2,)]}}, "h", None, [])
    stored = store.get_service("web")
    assert stored is not None
    assert stored.spec == {"ports": [80, 443], "nested": {"z": [1, [2]]}}


def test_remove_service_takes_its_slots_and_health_and_nothing_else(store: StateStore) -> None:
    store.set_service("web", {}, "h", None, ["h1"])
    store.set_service("db", {}, "d", None, ["h2"])
    store.set_slot("web", "1", 1, "h1")
    store.set_slot("db", "1", 1, "h2")
    store.set_health("web", "web.1", HealthRecord(1, 0, "healthy", 1.0, 0))
    store.set_health("db", "db.1", HealthRecord(1, 0, "healthy", 1.0, 0))
    store.set_schedulable("h1", False, "maintenance")
    begun = store.begin_deploy("web", {}, "h", "alice", "orchestr apply")
    store.finish_deploy(begun.id, "succeeded")
    store.audit("apply", "web", "deploy 1", user="alice", command="orchestr apply")
    store.record_event("started", "web.1 started", host="h1", service="web")

    store.remove_service("web")
    assert store.get_service("web") is None
    assert store.slots("web") == {} and store.health("web") == {}
    assert [s.name for s in store.services()] == ["db"]
    assert list(store.slots("db")) == ["1"] and list(store.health("db")) == ["db.1"]
    assert store.unschedulable() == {"h1": "maintenance"}
    assert [d.number for d in store.deploys("web")] == [1]
    assert [e.service for e in store.audit_log()] == ["web"]
    assert [e.service for e in store.events()] == ["web"]
    # history stays, so a re-created service goes on numbering where it stopped
    assert store.begin_deploy("web", {}, "h", "alice", "orchestr apply").number == 2
    store.remove_service("never-there")  # a no-op


# --- slots ------------------------------------------------------------------------------------


def test_slots_round_trip(store: StateStore) -> None:
    assert store.slots("web") == {} and store.all_slots() == []
    store.set_slot("web", "1", 1, "h1")
    store.set_slot("web", "2", 1, "h2")
    store.set_slot("db", "h1", 4, "h1")  # a slot needs no service record
    store.set_slot("web", "1", 2, "h3")  # replaced: a new epoch on another host
    assert store.slots("web") == {
        "1": SlotRecord("web", "1", 2, "h3"),
        "2": SlotRecord("web", "2", 1, "h2"),
    }
    store.remove_slot("web", "2")
    store.remove_slot("web", "9")  # unknown: a no-op
    assert list(store.slots("web")) == ["1"]
    assert store.all_slots() == [SlotRecord("db", "h1", 4, "h1"), SlotRecord("web", "1", 2, "h3")]


def test_a_retired_slot_keeps_its_epoch(store: StateStore) -> None:
    store.set_slot("web", "2", 5, "h2")
    store.set_slot("web", "2", 5, "")  # retired: no host, the epoch stays for the comeback
    assert store.slots("web") == {"2": SlotRecord("web", "2", 5, "")}
    assert store.all_slots() == [SlotRecord("web", "2", 5, "")]


_names = st.sampled_from(["a", "b", "web", "web-2", "Z"])
_slot_ops = st.lists(
    st.tuples(st.booleans(), _names, _names, st.integers(0, 50), st.sampled_from(["", "h1", "h2"])),
    max_size=40,
)


@PROPERTIES
@given(ops=_slot_ops)
def test_slots_behave_like_a_dict(backend: Callable[[], StateStore], ops: list) -> None:
    store = backend()
    model: dict[tuple[str, str], SlotRecord] = {}
    for put, service, slot, epoch, host in ops:
        if put:
            store.set_slot(service, slot, epoch, host)
            model[service, slot] = SlotRecord(service, slot, epoch, host)
        else:
            store.remove_slot(service, slot)
            model.pop((service, slot), None)
    assert store.all_slots() == [model[key] for key in sorted(model)]
    for service in {service for _, service, *_ in ops}:
        expected = {slot: r for (s, slot), r in model.items() if s == service}
        assert store.slots(service) == expected
    store.close()


# --- deploys ----------------------------------------------------------------------------------


def test_deploys_are_numbered_per_service(store: StateStore) -> None:
    assert store.deploys("web") == []
    first = store.begin_deploy("web", {"v": 1}, "h1", "alice", "orchestr apply web.yml")
    other = store.begin_deploy("db", {"v": 1}, "d1", "alice", "orchestr apply db.yml")
    second = store.begin_deploy("web", {"v": 2}, "h2", "bob", "orchestr apply web.yml")
    assert (first.number, other.number, second.number) == (1, 1, 2)
    assert len({first.id, other.id, second.id}) == 3
    assert (first.status, first.finished_at, first.detail) == ("running", None, "")
    store.finish_deploy(first.id, "succeeded")
    store.finish_deploy(second.id, "failed", "web.2 never became healthy")
    history = store.deploys("web")
    assert [(d.number, d.status, d.spec) for d in history] == [
        (1, "succeeded", {"v": 1}),
        (2, "failed", {"v": 2}),
    ]
    assert history[1].detail == "web.2 never became healthy"
    assert history[1].finished_at is not None
    assert history[1].finished_at >= history[1].started_at
    assert (history[1].user, history[1].command) == ("bob", "orchestr apply web.yml")
    assert store.deploy("web", 2) == history[1]
    assert store.deploy("web", 3) is None and store.deploy("nothing", 1) is None
    db = store.deploy_by_id(other.id)
    assert db is not None and db.service == "db"
    assert store.deploy_by_id(max(first.id, other.id, second.id) + 100) is None


def test_begin_deploy_returns_what_is_stored(store: StateStore) -> None:
    begun = store.begin_deploy("web", {"ports": (80, 443)}, "h", "alice", "orchestr apply")
    assert begun.spec == {"ports": [80, 443]}
    assert begun == store.deploy("web", 1) == store.deploy_by_id(begun.id)


def test_begin_deploy_says_who_by_default(store: StateStore, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["orchestr", "apply", "site.yml"])
    begun = store.begin_deploy("web", {}, "h")
    assert begun.command == command_line() == "orchestr apply site.yml"
    assert begun.user  # the login name, whatever it is here
    assert store.deploy("web", 1) == begun


def test_finish_deploy_rejects_nonsense(store: StateStore) -> None:
    begun = store.begin_deploy("web", {}, "h", "alice", "orchestr apply")
    with pytest.raises(ValueError):
        store.finish_deploy(begun.id, "running")
    with pytest.raises(ValueError):
        store.finish_deploy(begun.id, "done")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        store.finish_deploy(begun.id + 100, "failed")
    assert store.deploy("web", 1) == begun  # untouched by the refusals


def test_a_deploy_may_be_finished_again(store: StateStore) -> None:
    begun = store.begin_deploy("web", {}, "h", "alice", "orchestr apply")
    store.finish_deploy(begun.id, "failed", "web.1 unhealthy")
    store.finish_deploy(begun.id, "rolled back", "web.1 unhealthy; no earlier good deploy")
    final = store.deploy("web", 1)
    assert final is not None
    assert (final.status, final.detail) == (
        "rolled back",
        "web.1 unhealthy; no earlier good deploy",
    )
    for status in DEPLOY_STATUSES:
        if status != "running":
            store.finish_deploy(begun.id, status)  # type: ignore[arg-type]


def test_last_good_deploy(store: StateStore) -> None:
    assert store.last_good_deploy("web") is None
    statuses = ["succeeded", "succeeded", "failed", "rolled back", "paused"]
    for index, status in enumerate(statuses):
        begun = store.begin_deploy("web", {"v": index + 1}, f"h{index}", "alice", "orchestr")
        store.finish_deploy(begun.id, status)  # type: ignore[arg-type]
    store.begin_deploy("web", {"v": 6}, "h5", "alice", "orchestr")  # still running
    store.finish_deploy(store.begin_deploy("db", {}, "d", "alice", "orchestr").id, "succeeded")
    good = store.last_good_deploy("web")
    assert good is not None and (good.number, good.spec) == (2, {"v": 2})
    assert store.last_good_deploy("web", before=99) == good
    earlier = store.last_good_deploy("web", before=2)
    assert earlier is not None and earlier.number == 1
    assert store.last_good_deploy("web", before=1) is None
    assert store.last_good_deploy("web", before=0) is None
    assert store.last_good_deploy("nothing") is None


_deploy_ops = st.lists(
    st.tuples(st.sampled_from(["web", "db", "api"]), st.sampled_from(DEPLOY_STATUSES)),
    max_size=25,
)


@PROPERTIES
@given(ops=_deploy_ops, before=st.one_of(st.none(), st.integers(0, 12)))
def test_deploy_numbers_and_rollback_targets(
    backend: Callable[[], StateStore], ops: list[tuple[str, str]], before: int | None
) -> None:
    store = backend()
    model: dict[str, list[str]] = {}  # service -> status of deploy 1, 2, ...
    ids = []
    for service, status in ops:
        begun = store.begin_deploy(service, {"n": len(ids)}, "h", "alice", "orchestr")
        model.setdefault(service, []).append(status)
        assert begun.number == len(model[service])
        ids.append(begun.id)
        if status != "running":
            store.finish_deploy(begun.id, status)  # type: ignore[arg-type]
    assert len(set(ids)) == len(ids)
    for service in ("web", "db", "api"):
        statuses = model.get(service, [])
        history = store.deploys(service)
        assert [(d.number, d.status) for d in history] == list(enumerate(statuses, start=1))
        good = [
            number
            for number, status in enumerate(statuses, start=1)
            if status == "succeeded" and (before is None or number < before)
        ]
        found = store.last_good_deploy(service, before=before)
        assert (found.number if found else None) == (max(good) if good else None)
    store.close()


def test_concurrent_deploys_on_one_store_take_distinct_numbers(store: StateStore) -> None:
    numbers: list[int] = []
    failures: list[BaseException] = []

    def deployer() -> None:
        try:
            for _ in range(20):
                numbers.append(store.begin_deploy("web", {}, "h", "alice", "orchestr").number)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=deployer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(numbers) == list(range(1, 81))


# --- drained hosts ----------------------------------------------------------------------------


def test_drained_hosts(store: StateStore) -> None:
    assert store.unschedulable() == {}
    store.set_schedulable("h2", False)
    store.set_schedulable("h1", False, "disk replacement")
    store.set_schedulable("h3", True)
    assert list(store.unschedulable().items()) == [("h1", "disk replacement"), ("h2", "")]
    store.set_schedulable("h2", False, "kernel update")  # drained again: the new reason wins
    store.set_schedulable("h1", True)
    assert store.unschedulable() == {"h2": "kernel update"}
    store.set_schedulable("h1", False)  # a reason from before the undrain does not come back
    assert store.unschedulable() == {"h1": "", "h2": "kernel update"}


# --- audit log --------------------------------------------------------------------------------


def test_audit_log(store: StateStore, monkeypatch) -> None:
    assert store.audit_log() == []
    store.audit("apply", "web", "deploy 1", user="alice", command="orchestr apply web.yml")
    monkeypatch.setattr("sys.argv", ["orchestr", "drain", "h 1"])
    store.audit("drain", None, "h1 drained")
    store.audit("apply", "db", "deploy 1", user="bob", command="orchestr apply db.yml")
    entries = store.audit_log()
    assert [entry.action for entry in entries] == ["apply", "drain", "apply"]
    assert [entry.service for entry in entries] == ["web", None, "db"]
    assert len({entry.id for entry in entries}) == 3
    assert entries[0].user == "alice" and entries[0].command == "orchestr apply web.yml"
    assert entries[1].command == "orchestr drain 'h 1'"
    assert entries[1].user  # the login name, whatever it is here
    assert [entry.detail for entry in store.audit_log(service="web")] == ["deploy 1"]
    assert [entry.action for entry in store.audit_log(limit=2)] == ["drain", "apply"]
    assert store.audit_log(limit=0) == []
    assert store.audit_log(since=time.time() + 60) == []
    assert store.audit_log(since=entries[1].at)[0] == entries[1]  # since is inclusive
    assert [e.service for e in store.audit_log(service="db", since=entries[0].at)] == ["db"]
    assert store.audit_log(service="web", limit=5) == [entries[0]]


# --- events -----------------------------------------------------------------------------------


def test_events(store: StateStore) -> None:
    assert store.events() == []
    before = time.time()
    store.record_event("unhealthy", "web.1 failed 3 checks", host="h1", service="web", at=100.0)
    store.record_event("unreachable", "h2 did not answer", host="h2", at=200.0)
    store.record_event("note", "no host or service")
    events = store.events()
    assert [(e.kind, e.detail, e.host, e.service) for e in events] == [
        ("unhealthy", "web.1 failed 3 checks", "h1", "web"),
        ("unreachable", "h2 did not answer", "h2", None),
        ("note", "no host or service", None, None),
    ]
    assert events[0].at == 100.0 and events[2].at >= before
    assert [e.kind for e in store.events(since=150.0)] == ["unreachable", "note"]
    assert [e.kind for e in store.events(since=200.0)] == ["unreachable", "note"]  # inclusive
    assert [e.kind for e in store.events(limit=1)] == ["note"]
    assert [e.kind for e in store.events(since=50.0, limit=2)] == ["unreachable", "note"]
    assert store.events(limit=0) == []


def test_events_keep_the_order_they_were_written_in(store: StateStore) -> None:
    # A clock stepping back must not reorder what happened.
    store.record_event("first", "written first", at=300.0)
    store.record_event("second", "written second, stamped earlier", at=100.0)
    assert [e.kind for e in store.events()] == ["first", "second"]
    assert [e.kind for e in store.events(limit=1)] == ["second"]


@PROPERTIES
@given(
    stamps=st.lists(st.floats(0, 1000, allow_nan=False), max_size=20),
    since=st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
    limit=st.one_of(st.none(), st.integers(-2, 25)),
)
def test_events_filter_then_keep_the_newest(
    backend: Callable[[], StateStore], stamps: list[float], since: float | None, limit: int | None
) -> None:
    store = backend()
    for index, at in enumerate(stamps):
        store.record_event("tick", str(index), at=at)
    kept = [str(i) for i, at in enumerate(stamps) if since is None or at >= since]
    if limit is not None:
        kept = kept[-limit:] if limit > 0 else []
    assert [e.detail for e in store.events(since=since, limit=limit)] == kept
    store.close()


def test_one_store_shared_by_threads(store: StateStore) -> None:
    def writer(name: str) -> None:
        for index in range(50):
            store.record_event("tick", f"{name} {index}")

    threads = [threading.Thread(target=writer, args=(str(n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    details = [e.detail for e in store.events()]
    assert len(details) == 200
    for name in range(4):  # each thread's events in its own order
        assert [d for d in details if d.startswith(f"{name} ")] == [
            f"{name} {i}" for i in range(50)
        ]


# --- health counters --------------------------------------------------------------------------


def test_health_counters(store: StateStore) -> None:
    assert store.health("web") == {}
    store.set_health("web", "web.2", HealthRecord(0, 2, "unhealthy", 20.0, 0))
    store.set_health("web", "web.1", HealthRecord(3, 0, "healthy", 10.0, 1))
    store.set_health("web", "web.1", HealthRecord(4, 0, "healthy", 10.0, 1))  # replaced
    store.set_health("@hosts", "h1", HealthRecord(0, 1, "missing", 30.0, 0))
    health = store.health("web")
    assert list(health.items()) == [
        ("web.1", HealthRecord(4, 0, "healthy", 10.0, 1)),
        ("web.2", HealthRecord(0, 2, "unhealthy", 20.0, 0)),
    ]
    store.clear_health("web", "web.2")
    store.clear_health("web", "web.9")  # unknown: a no-op
    store.clear_health("db", "web.1")  # another service's container of that name: untouched
    assert list(store.health("web")) == ["web.1"]
    assert store.health("@hosts") == {"h1": HealthRecord(0, 1, "missing", 30.0, 0)}


# --- transactions -----------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_transaction_is_all_or_nothing(store: StateStore) -> None:
    with pytest.raises(Boom), store.transaction():
        store.set_service("web", {}, "h", None, [])
        store.set_slot("web", "1", 1, "h1")
        store.begin_deploy("web", {}, "h", "alice", "orchestr")
        store.set_schedulable("h1", False, "x")
        store.audit("apply", "web", "x", user="alice", command="orchestr")
        store.record_event("note", "x")
        store.set_health("web", "web.1", HealthRecord(1, 0, "healthy", 1.0, 0))
        assert store.get_service("web") is not None  # a transaction reads its own writes
        raise Boom
    assert store.get_service("web") is None and store.slots("web") == {}
    assert store.deploys("web") == [] and store.unschedulable() == {}
    assert store.audit_log() == [] and store.events() == [] and store.health("web") == {}
    # the rolled-back deploy took no number
    assert store.begin_deploy("web", {}, "h", "alice", "orchestr").number == 1


def test_transactions_nest_and_the_outermost_commits(store: StateStore) -> None:
    with store.transaction():
        store.set_service("web", {}, "h", None, [])
        with store.transaction():
            store.set_slot("web", "1", 1, "h1")
    assert store.get_service("web") is not None and "1" in store.slots("web")

    with pytest.raises(Boom), store.transaction():
        store.set_service("db", {}, "h", None, [])
        with store.transaction():
            store.set_slot("db", "1", 1, "h1")
            raise Boom  # escapes both levels: everything is undone
    assert store.get_service("db") is None and store.slots("db") == {}


def test_a_failed_transaction_leaves_the_store_usable(store: StateStore) -> None:
    with pytest.raises(Boom), store.transaction():
        store.set_service("web", {}, "h", None, [])
        raise Boom
    store.set_service("web", {"after": True}, "h", None, [])
    with store.transaction():
        store.set_slot("web", "1", 1, "h1")
    stored = store.get_service("web")
    assert stored is not None and stored.spec == {"after": True} and "1" in store.slots("web")


# --- open_store -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("/var/lib/orchestr/orchestr.db", "/var/lib/orchestr/orchestr.db"),
        ("state/orchestr.db", "state/orchestr.db"),
        ("odd:name.db", "odd:name.db"),  # a colon without // is still a path
        ("sqlite:///state/orchestr.db", "state/orchestr.db"),  # three slashes: relative
        ("sqlite:////var/lib/orchestr.db", "/var/lib/orchestr.db"),  # four: absolute
        ("SQLite:////var/lib/orchestr.db", "/var/lib/orchestr.db"),
    ],
)
def test_store_urls_that_name_a_sqlite_file(text: str, location: str) -> None:
    assert parse_store_url(text) == StoreURL("sqlite", location)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("etcd://10.0.0.1:2379/orchestr", "no etcd:// backend", "come with the etcd backend"),
        ("postgres://db/orchestr", "no postgres:// backend", "sqlite:////absolute/path"),
        ("sqlite://", "names no file", "in-memory"),
        ("sqlite:///", "names no file", "in-memory"),
        ("sqlite://state/orchestr.db", "host part (state)", "sqlite:///relative/path"),
        ("sqlite:///orchestr.db?mode=ro", "query or fragment", "plain path"),
        ("", "empty", "sqlite:///relative/path"),
    ],
)
def test_store_urls_that_are_refused(text: str, message: str, hint: str) -> None:
    with pytest.raises(StoreError) as caught:
        parse_store_url(text)
    assert message in caught.value.message and hint in caught.value.hint
    assert "\n" not in caught.value.one_line()
    with pytest.raises(OrchestrError):
        open_store(text)


def test_open_store_opens_paths_and_urls(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for where, expected in [
        (tmp_path / "as-path.db", str(tmp_path / "as-path.db")),
        ("relative.db", "relative.db"),
        ("sqlite:///via-url.db", "via-url.db"),
        (f"sqlite:///{tmp_path}/absolute.db", f"{tmp_path}/absolute.db"),
    ]:
        with open_store(where) as opened:
            assert isinstance(opened, StateStore) and opened.path == expected
            opened.set_service("web", {}, "h", None, [])
        assert (tmp_path / Path(expected).name).is_file()


def test_open_store_defaults_to_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ORCHESTR_STORE", raising=False)
    monkeypatch.setenv("ORCHESTR_STATE_DIR", str(tmp_path / "state"))
    with open_store() as opened:
        assert opened.path == str(tmp_path / "state" / "orchestr.db")
    monkeypatch.setenv("ORCHESTR_STORE", f"sqlite:///{tmp_path}/from-env.db")
    with open_store() as opened:
        assert opened.path == f"{tmp_path}/from-env.db"
    monkeypatch.setenv("ORCHESTR_STORE", "etcd://127.0.0.1:2379")
    with pytest.raises(StoreError, match="etcd"):
        open_store()
