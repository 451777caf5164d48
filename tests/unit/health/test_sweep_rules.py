"""The sweep's pure rules: host verdicts (fall and grace), docker's StartedAt, the metrics
textfile, and reconcile's handling of suspect hosts and evicted replicas."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestr.cluster.model import Container, HostView, Resources
from orchestr.cluster.reconcile import ClusterView, SlotRecord, reconcile
from orchestr.cluster.spec import parse_service
from orchestr.cluster.steps import PublishChange, Step
from orchestr.health.sweep import SweepOptions, SweepReport, host_verdict, metrics_text, started_at
from orchestr.store.store import HealthRecord

OPTIONS = SweepOptions(host_fall=2, grace=10.0)


def test_a_host_that_answers_is_up_and_stays_the_same_record() -> None:
    up = host_verdict(None, True, 100.0, OPTIONS)
    assert (up.status, up.since) == ("up", 100.0)
    assert host_verdict(up, True, 200.0, OPTIONS) is up  # nothing new: nothing to store


def test_a_host_is_down_after_fall_misses() -> None:
    up = host_verdict(None, True, 100.0, OPTIONS)
    first = host_verdict(up, False, 101.0, OPTIONS)
    assert (first.status, first.failures, first.since) == ("missing", 1, 101.0)
    second = host_verdict(first, False, 102.0, OPTIONS)
    assert (second.status, second.failures, second.since) == ("down", 2, 101.0)
    back = host_verdict(second, True, 150.0, OPTIONS)
    assert (back.status, back.failures, back.since) == ("up", 0, 150.0)


def test_a_host_is_down_after_the_grace_period_even_with_one_miss() -> None:
    options = SweepOptions(host_fall=5, grace=10.0)
    first = host_verdict(None, False, 100.0, options)
    assert first.status == "missing"
    assert host_verdict(first, False, 109.0, options).status == "missing"
    assert host_verdict(first, False, 110.0, options).status == "down"


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(1, 5))
def test_down_needs_fall_misses_in_a_row(answers: list[bool], fall: int) -> None:
    options = SweepOptions(host_fall=fall, grace=1e9)
    record = None
    streak = 0
    for index, answered in enumerate(answers):
        record = host_verdict(record, answered, float(index), options)
        streak = 0 if answered else streak + 1
        assert (record.status == "down") == (streak >= fall)
        assert (record.status == "up") == answered


def container(**changes) -> Container:
    base = dict(host="h1", name="web.1.e1", service="web", slot="1", epoch=1, spec_hash="x")
    return Container(**{**base, **changes})


def test_started_at_reads_docker_timestamps() -> None:
    assert started_at(container(started_at="2026-11-22T04:00:00.123456789Z"), 0) == 1795320000.0
    assert started_at(container(started_at="2026-11-22T04:00:00Z"), 0) == 1795320000.0
    assert started_at(container(started_at="0001-01-01T00:00:00Z"), 7.0) == 7.0
    assert started_at(container(started_at="garbage"), 7.0) == 7.0


def test_metrics_are_in_the_textfile_format() -> None:
    moved = [Step(kind, "web", slot, "host n2 is down", host="n1") for kind, slot in
             (("lost", "1"), ("migrate", "2"), ("place", "3"))]  # fmt: skip
    report = SweepReport(started=1795320000.0, duration=0.25, steps=moved,
                         hosts={"n1": "up", "n2": "down"},
                         services={"web": {"desired": 3, "running": 2, "healthy": 1}})  # fmt: skip
    text = metrics_text(report)
    assert 'orchestr_service_desired{service="web"} 3\n' in text
    assert 'orchestr_service_healthy{service="web"} 1\n' in text
    assert 'orchestr_host_up{host="n1"} 1\n' in text and 'orchestr_host_up{host="n2"} 0\n' in text
    assert "orchestr_sweep_duration_seconds 0.250\n" in text
    assert "orchestr_sweep_relocations 2\n" in text
    for line in text.splitlines():  # every sample has HELP and TYPE before it
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert f"# TYPE {name} gauge" in text
    assert text.endswith("\n")


def test_report_exit_codes() -> None:
    restart = Step("restart", "web", "1", "unhealthy", host="n1", container="web.1.e1")
    reload = PublishChange("haproxy", "lb1", "reloaded")
    assert SweepReport().exit_code == 0
    assert SweepReport(steps=[restart]).exit_code == 1
    assert SweepReport(published=[reload]).exit_code == 1
    # --report-only healed nothing: work left to do is a degraded cluster, never "healed".
    planned = SweepReport(planned=["restart web.1.e1 on n1"])
    assert (planned.exit_code, planned.verdict.split()[0]) == (2, "NEEDS")
    assert SweepReport(steps=[restart], problems=["no room"]).exit_code == 2
    # Nothing done while a host is not up or a service is short: degraded, not healthy.
    whole = {"web": {"healthy": 2, "desired": 2}}
    assert SweepReport(hosts={"n1": "up", "n2": "up"}, services=whole).exit_code == 0
    assert SweepReport(hosts={"n1": "up", "n2": "missing"}, services=whole).exit_code == 2
    # A host declared down whose replicas run elsewhere has been dealt with.
    assert SweepReport(hosts={"n1": "up", "n2": "down"}, services=whole).exit_code == 0
    short = {"web": {"healthy": 1, "desired": 2}}
    assert SweepReport(hosts={"n1": "up"}, services=short).exit_code == 2
    assert SweepReport(hosts={"n1": "up"}, services=short).verdict == "DEGRADED"
    # Acting this sweep is "healed", even while the relocated host is still down.
    assert SweepReport(hosts={"n1": "down"}, services=whole, steps=[restart]).exit_code == 1


SPEC = parse_service({"name": "web", "image": "demo:1", "replicas": 2, "max_per_host": 1})
HOSTS = tuple(HostView(n, capacity=Resources(2, 2048)) for n in ("h1", "h2", "h3"))


def test_a_suspect_hosts_replica_is_neither_kept_nor_replaced() -> None:
    from orchestr.cluster.spec import spec_hash

    ok = spec_hash(SPEC)
    hosts = (HOSTS[0], HostView("h2", up=False), HOSTS[2])
    view = ClusterView(hosts, (container(host="h1", spec_hash=ok),), suspect=frozenset({"h2"}))
    record = {"1": SlotRecord("1", 1, "h1"), "2": SlotRecord("2", 1, "h2")}
    plan = reconcile(SPEC, view, record)
    assert plan.actions == ()
    assert plan.slots_after["2"] == SlotRecord("2", 1, "h2")  # still owed to h2


def test_a_declared_down_hosts_replica_is_lost_and_placed_elsewhere() -> None:
    from orchestr.cluster.spec import spec_hash

    ok = spec_hash(SPEC)
    hosts = (HOSTS[0], HostView("h2", up=False), HOSTS[2])
    view = ClusterView(hosts, (container(host="h1", spec_hash=ok),))
    plan = reconcile(SPEC, view, {"1": SlotRecord("1", 1, "h1"), "2": SlotRecord("2", 1, "h2")})
    (lost,) = plan.actions
    assert (lost.kind, lost.slot, lost.host, lost.epoch) == ("lost", "2", "h3", 2)


def test_an_evicted_replica_moves_off_its_host() -> None:
    from orchestr.cluster.spec import spec_hash

    spec = parse_service({"name": "web", "image": "demo:1", "replicas": 1})
    ok = spec_hash(spec)
    view = ClusterView(HOSTS, (container(host="h1", spec_hash=ok),),
                       evict={"web.1.e1": "unhealthy after 3 restarts on h1"})  # fmt: skip
    (move,) = reconcile(spec, view, {"1": SlotRecord("1", 1, "h1")}).actions
    assert (move.kind, move.host, move.epoch) == ("migrate", "h2", 2)
    assert move.reason == "unhealthy after 3 restarts on h1"


def test_an_eviction_with_nowhere_to_go_keeps_the_replica() -> None:
    from orchestr.cluster.spec import spec_hash

    spec = parse_service({"name": "web", "image": "demo:1", "replicas": 1})
    view = ClusterView(HOSTS[:1], (container(host="h1", spec_hash=spec_hash(spec)),),
                       evict={"web.1.e1": "kept failing"})  # fmt: skip
    plan = reconcile(spec, view, {"1": SlotRecord("1", 1, "h1")})
    assert plan.actions == () and plan.unplaced and "kept failing" in plan.unplaced[0]


def test_health_record_shape_is_what_the_store_keeps() -> None:
    record = host_verdict(None, False, 5.0, OPTIONS)
    assert isinstance(record, HealthRecord) and record.restarts == 0
