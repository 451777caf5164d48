"""A sweep's heal through the one path against fake hosts: moves publish before they remove,
a host declared down has its replicas relocated onto the service's own candidates only, its
stale copies are fenced when it returns, and the store's record of other services is kept."""

from __future__ import annotations

import pytest
from orchestration_fakes import Fleet, endpoints, position, slot_hosts, spec, stored_change

from orchestr.cluster.deploy import Change, converge
from orchestr.health.sweep import Sweeper, SweepOptions

AT_ONCE = SweepOptions(host_fall=1, grace=0)  # an unreachable host is down at the first miss


def ok(done) -> None:  # noqa: ANN001
    assert [r.message for r in done.reports if r.failed] == []
    assert done.discovery_problems == []


async def sweep(fleet: Fleet, options: SweepOptions = AT_ONCE):  # noqa: ANN201
    """One `orchestr sweep` (cron): a new handle and sweeper each time."""
    return await Sweeper(fleet.cluster(), options).sweep()


@pytest.mark.parametrize("why", ["drained", "evicted"])
async def test_a_sweep_migrate_publishes_before_it_removes(fleet: Fleet, why: str) -> None:
    web = spec("web", ports=["8080:80"], lb_port=8091)
    a = spec("a", ports=["8080:80"], lb_port=8092)
    ok(await converge(fleet.cluster(), [Change(web, ("node1", "node2")), Change(a, ("node3",))]))
    ((_, home),) = slot_hosts(fleet.store, "web").values()
    other = ({"node1", "node2"} - {home}).pop()
    if why == "drained":
        fleet.store.set_schedulable(home, False, "maintenance")
    else:  # exited, and docker already restarted it as often as a sweep would: moved off
        fleet.dockers[home].containers["web.1.e1"]["State"].update(Running=False,
                                                                    Status="exited", ExitCode=1)  # fmt: skip
        fleet.dockers[home].containers["web.1.e1"]["RestartCount"] = AT_ONCE.restart_limit
    mark = len(fleet.entries)

    report = await sweep(fleet)

    assert report.problems == [] and report.relocations == 1
    (step,) = report.steps
    assert (step.kind, step.service, step.slot, step.epoch) == ("migrate", "web", "1", 2)
    assert (step.old, step.old_host, step.container, step.host) == ("web.1.e1", home, "web.1.e2",
                                                                    other)  # fmt: skip
    log = fleet.entries[mark:]
    run = position(log, other, "docker", "run", "--detach", "--name", "web.1.e2")
    remove = position(log, home, "docker", "rm", "--force", "web.1.e1")
    told = [e.snapshot for e in log[run:remove] if e.snapshot is not None]
    assert told, "the old replica was removed before discovery was told"
    assert endpoints(told[0], "web") == {("1", other, 8080)}
    # Clients of the other service were never sent anywhere else.
    assert all(endpoints(e.snapshot, "a") == {("1", "node3", 8080)}
               for e in log if e.snapshot is not None)  # fmt: skip
    assert fleet.replicas("web") == {"web.1.e2": other}
    assert slot_hosts(fleet.store, "web") == {"1": (2, other)}
    assert fleet.zone_addresses()["web"] == {fleet.address(other)}


async def test_a_host_declared_down_is_healed_on_the_candidates_and_fenced_when_back(
    fleet: Fleet,
) -> None:
    web = spec("web", replicas=2, ports=["8080:80"], lb_port=8091)
    a = spec("a", ports=["8080:80"], lb_port=8092)
    candidates = ("node1", "node2", "node3")
    ok(await converge(fleet.cluster(), [Change(web, candidates), Change(a, ("node4",))]))
    before = slot_hosts(fleet.store, "web")
    dead = before["1"][1]
    keeper = before["2"][1]
    fleet.kill(dead)
    two_misses = SweepOptions(host_fall=2, grace=3600)

    # First miss: the host is suspect; its replica is neither kept nor replaced.
    first = await sweep(fleet, two_misses)
    assert first.hosts[dead] == "missing"
    assert first.steps == [] and slot_hosts(fleet.store, "web") == before
    assert fleet.replicas("web") == {"web.1.e1": dead, "web.2.e1": keeper}

    # Second miss: declared down; slot 1 is relocated onto another of web's candidates.
    second = await sweep(fleet, two_misses)
    assert second.hosts[dead] == "down" and second.problems == []
    (step,) = second.steps
    assert (step.kind, step.service, step.slot, step.epoch) == ("lost", "web", "1", 2)
    assert step.host in set(candidates) - {dead}
    assert slot_hosts(fleet.store, "web") == {"1": (2, step.host), "2": before["2"]}
    assert fleet.running("web") == {"web.1.e1": dead, "web.1.e2": step.host, "web.2.e1": keeper}
    assert {h for _, h, _ in endpoints(fleet.snapshots[-1], "web")} == {step.host, keeper}
    assert endpoints(fleet.snapshots[-1], "a") == {("1", "node4", 8080)}
    assert fleet.replicas("a") == {"a.1.e1": "node4"}

    # It comes back with its stale copy: the next sweep fences it, and moves nothing else.
    fleet.revive(dead)
    third = await sweep(fleet)
    assert third.hosts[dead] == "up" and third.problems == []
    (fence,) = third.steps
    assert (fence.kind, fence.container, fence.host) == ("fence", "web.1.e1", dead)
    assert fleet.replicas("web") == {"web.1.e2": step.host, "web.2.e1": keeper}
    assert slot_hosts(fleet.store, "web") == {"1": (2, step.host), "2": before["2"]}
    assert fleet.store.get_service("web").hosts == candidates


async def test_a_sweep_keeps_every_services_record_and_a_dropped_slots_epoch(fleet: Fleet) -> None:
    x = spec("x", replicas=2, ports=["8080:80"])
    y = spec("y", ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(x, ("node1", "node2")), Change(y, ("node3",))]))
    ok(await converge(fleet.cluster(), [stored_change(fleet.store, "x", replicas=1)]))
    slots = slot_hosts(fleet.store, "x")
    assert slots["2"] == (1, "")  # retired with its epoch: a copy left somewhere stays stale
    home = slots["1"][1]
    stored = {s.name: (s.hosts, s.spec, s.deploy_id) for s in fleet.store.services()}
    deploys = {name: len(fleet.store.deploys(name)) for name in stored}

    # x's host is drained and y's only host dies: x moves within its candidates, y nowhere.
    fleet.store.set_schedulable(home, False)
    fleet.kill("node3")
    report = await sweep(fleet)

    assert report.hosts["node3"] == "down"
    assert [(s.kind, s.service) for s in report.steps] == [("migrate", "x")]
    assert [p for p in report.problems if p.startswith("y: ")], report.problems
    assert fleet.replicas("y") == {"y.1.e1": "node3"}  # never placed outside its candidates
    assert set(fleet.running("x").values()) == {"node1", "node2"} - {home}
    # The sweep rewrote no service's record and started no deploy.
    assert {s.name: (s.hosts, s.spec, s.deploy_id) for s in fleet.store.services()} == stored
    assert {name: len(fleet.store.deploys(name)) for name in stored} == deploys
    assert slot_hosts(fleet.store, "x")["2"] == (1, "")

    # Scaled up again, the slot comes back with the next epoch.
    fleet.store.set_schedulable(home, True)
    ok(await converge(fleet.cluster(), [stored_change(fleet.store, "x", replicas=2)]))
    assert slot_hosts(fleet.store, "x")["2"][0] == 2
