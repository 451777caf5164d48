"""apply, scale, drain/undrain and rollback through the one path (cluster/deploy.py converge)
against fake hosts: real shell scripts, a FakeDocker per host, a real store and zone file."""

from __future__ import annotations

from orchestration_fakes import (
    Fleet,
    drain_changes,
    endpoints,
    position,
    slot_hosts,
    spec,
    stored_change,
)

from orchestr.cluster.deploy import Change, converge
from orchestr.cluster.spec import spec_from_dict


def ok(done) -> None:  # noqa: ANN001
    assert [r.message for r in done.reports if r.failed] == []
    assert done.discovery_problems == []


async def test_two_playbooks_on_disjoint_hosts_keep_each_other_in_discovery(fleet: Fleet) -> None:
    a = spec("a", ports=["8080:80"], lb_port=8091)
    b = spec("b", replicas=2, ports=["8080:80"], lb_port=8092)
    # Two `orchestr apply` runs, each with its own handle, each naming only its play's hosts.
    ok(await converge(fleet.cluster(), [Change(a, ("node1",))]))
    first = len(fleet.snapshots)
    done = await converge(fleet.cluster(), [Change(b, ("node2", "node3"))])
    ok(done)

    assert fleet.running("a") == {"a.1.e1": "node1"}
    assert sorted(fleet.running("b").values()) == ["node2", "node3"]
    assert [s.kind for s in done.reports[0].steps] == ["place", "place"]
    assert {s.host for s in done.reports[0].steps} == {"node2", "node3"}
    # Every snapshot published while b was applied still had a; the last one has both.
    during = fleet.snapshots[first:]
    assert during and all(endpoints(s, "a") == {("1", "node1", 8080)} for s in during)
    assert {h for _, h, _ in endpoints(during[-1], "b")} == {"node2", "node3"}
    assert during[-1].service("a").lb_port == 8091 and during[-1].service("b").lb_port == 8092
    zone = fleet.zone_addresses()
    assert zone["a"] == {fleet.address("node1")}
    assert zone["b"] == {fleet.address("node2"), fleet.address("node3")}
    # Each service keeps its own candidates.
    assert fleet.store.get_service("a").hosts == ("node1",)
    assert fleet.store.get_service("b").hosts == ("node2", "node3")
    assert slot_hosts(fleet.store, "a") == {"1": (1, "node1")}


async def test_a_scale_of_one_service_keeps_the_others_endpoints(fleet: Fleet) -> None:
    a = spec("a", ports=["8080:80"], lb_port=8091)
    b = spec("b", ports=["8100-8109:80"], lb_port=8092)
    ok(await converge(fleet.cluster(), [Change(a, ("node1",))]))
    ok(await converge(fleet.cluster(), [Change(b, ("node2", "node3"))]))
    first = len(fleet.snapshots)

    up = await converge(fleet.cluster(), [stored_change(fleet.store, "b", replicas=3)])
    ok(up)
    assert [s.kind for s in up.reports[0].steps] == ["place", "place"]
    assert len(fleet.running("b")) == 3
    assert set(fleet.running("b").values()) == {"node2", "node3"}
    down = await converge(fleet.cluster(), [stored_change(fleet.store, "b", replicas=1)])
    ok(down)
    assert [s.kind for s in down.reports[0].steps] == ["stop", "stop"]
    assert list(fleet.running("b")) == ["b.1.e1"]

    during = fleet.snapshots[first:]
    assert len(during) >= 2
    assert all(endpoints(s, "a") == {("1", "node1", 8080)} for s in during)
    assert len(endpoints(during[-1], "b")) == 1
    assert fleet.zone_addresses()["a"] == {fleet.address("node1")}
    # A scale records the new count and keeps the candidates.
    stored = fleet.store.get_service("b")
    assert (spec_from_dict(stored.spec).replicas, stored.hosts) == (1, ("node2", "node3"))
    assert fleet.store.get_service("a").hosts == ("node1",)


async def test_a_scale_down_publishes_before_it_removes(fleet: Fleet) -> None:
    b = spec("b", replicas=2, ports=["8080:80"], lb_port=8092)
    ok(await converge(fleet.cluster(), [Change(b, ("node1", "node2"))]))
    dropped = slot_hosts(fleet.store, "b")["2"][1]
    mark = len(fleet.entries)
    ok(await converge(fleet.cluster(), [stored_change(fleet.store, "b", replicas=1)]))
    log = fleet.entries[mark:]
    remove = position(log, dropped, "docker", "rm", "--force", "b.2.e1")
    told = [e.snapshot for e in log[:remove] if e.snapshot is not None]
    assert told, "b.2.e1 was removed while discovery still sent clients to it"
    assert ("2", dropped, 8080) not in endpoints(told[-1], "b")


async def test_drain_moves_only_the_services_that_may_run_there(fleet: Fleet) -> None:
    c = spec("c", ports=["8080:80"])
    d = spec("d", replicas=2, ports=["8080:80"])
    ok(
        await converge(
            fleet.cluster(), [Change(c, ("node1", "node2")), Change(d, ("node3", "node4"))]
        )
    )
    ((_, drained),) = slot_hosts(fleet.store, "c").values()
    other = ({"node1", "node2"} - {drained}).pop()
    d_before = fleet.replicas("d")
    mark = len(fleet.entries)

    fleet.store.set_schedulable(drained, False, "maintenance")
    changes = drain_changes(fleet.store, drained)
    assert [ch.spec.name for ch in changes] == ["c"]
    done = await converge(fleet.cluster(), changes)
    ok(done)
    (step,) = done.reports[0].steps
    assert (step.kind, step.old_host, step.host, step.epoch) == ("migrate", drained, other, 2)
    assert fleet.running("c") == {"c.1.e2": other}
    assert fleet.replicas("c") == {"c.1.e2": other}  # the old one removed, not only stopped
    assert slot_hosts(fleet.store, "c") == {"1": (2, other)}
    # d runs on hosts c may not use: untouched, not even sent a command.
    assert fleet.replicas("d") == d_before
    assert not [e for e in fleet.entries[mark:] if e.host in ("node3", "node4") and
                e.argv[1] not in ("ps", "inspect", "version", "image")]  # fmt: skip
    assert endpoints(fleet.snapshots[-1], "c") == {("1", other, 8080)}
    assert len(endpoints(fleet.snapshots[-1], "d")) == 2

    # Undrain: schedulable again; nothing moves back.
    fleet.store.set_schedulable(drained, True)
    again = await converge(fleet.cluster(), drain_changes(fleet.store, drained))
    ok(again)
    assert not again.changed and again.reports[0].steps == []
    assert fleet.running("c") == {"c.1.e2": other}
    assert drained not in fleet.store.unschedulable()


async def test_rollback_to_an_earlier_deploy_updates_the_replicas_back(fleet: Fleet) -> None:
    v1 = spec("web", replicas=2, ports=["8080:80"], lb_port=8091)
    v2 = spec("web", image="app:2", replicas=2, ports=["8080:80"], lb_port=8091)
    hosts = ("node1", "node2")
    ok(await converge(fleet.cluster(), [Change(v1, hosts)]))
    done = await converge(fleet.cluster(), [Change(v2, hosts)])
    ok(done)
    assert sorted(s.kind for s in done.reports[0].steps) == ["update", "update"]
    images = {
        fleet.dockers[h].containers[n]["Config"]["Image"] for n, h in fleet.replicas("web").items()
    }
    assert images == {"app:2"}

    deploys = fleet.store.deploys("web")
    assert [(d.number, d.spec["image"]) for d in deploys] == [(1, "app:1"), (2, "app:2")]
    old = spec_from_dict(deploys[0].spec)
    stored = fleet.store.get_service("web")
    back = await converge(fleet.cluster(), [Change(old, tuple(stored.hosts), note=" (rollback to #1)",
                                                   rollback=False)])  # fmt: skip
    ok(back)
    (report,) = back.reports
    assert report.deploy_number == 3
    assert sorted((s.kind, s.slot, s.epoch) for s in report.steps) == [("update", "1", 3),
                                                                        ("update", "2", 3)]  # fmt: skip
    running = fleet.running("web")
    assert sorted(running) == ["web.1.e3", "web.2.e3"]
    assert {fleet.dockers[h].containers[n]["Config"]["Image"] for n, h in running.items()} == {
        "app:1"
    }
    assert fleet.replicas("web") == running  # the replaced replicas are gone
    assert set(running.values()) == set(hosts)
    assert fleet.store.get_service("web").spec["image"] == "app:1"
    assert [d.status for d in fleet.store.deploys("web")] == ["succeeded"] * 3
    assert {e[1] for e in endpoints(fleet.snapshots[-1], "web")} == set(hosts)


async def test_a_plays_become_reaches_observe_rollout_and_publish(fleet: Fleet) -> None:
    a = spec("a", ports=["8080:80"])
    ok(await converge(fleet.cluster(), [Change(a, ("node1",))]))
    assert fleet.sent and {s.become for s in fleet.sent} == {None}  # no become: none asked

    mark = len(fleet.sent)
    cluster = fleet.cluster().using(become=True)
    # A move (run, publish, remove) and an update (stop, run, remove) in one run.
    b = spec("b", image="app:2", ports=["8081:80"])
    done = await converge(cluster, [Change(a, ("node2",)), Change(b, ("node1", "node2"))])
    ok(done)
    assert [s.kind for s in done.reports[0].steps] == ["migrate"]
    sent = fleet.sent[mark:]
    scripts = " ".join(s.text for s in sent)
    assert "docker run" in scripts and "docker rm --force" in scripts and "docker ps" in scripts
    assert {s.become for s in sent} == {True}
