"""Reconcile: a spec, what runs and the store's slot record -> a plan in named buckets. One test per
kind of drift (exact bucket, slot, reason, host and epoch), the plan's shape, and properties over
generated clusters (hosts down or suspect, candidates, other services): the plan respects them, and
carrying it out converges in one step (reconciling the result asks for nothing more)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.cluster.model import Container, HostUsage, HostView, Resources
from orchestr.cluster.reconcile import (
    BUCKETS,
    Action,
    ClusterView,
    ServicePlan,
    SlotRecord,
    reconcile,
)
from orchestr.cluster.spec import parse_service, spec_hash
from orchestr.cluster.spec_types import ServiceSpec

OLD = "0ld0ld0ld0ld"  # the spec hash of replicas made from an earlier spec


def service(**args: Any) -> ServiceSpec:
    return parse_service({"name": "web", "image": "app:1", **args})


def host(name: str, cpus: float = 4, memory: int = 4096, **kw: Any) -> HostView:
    return HostView(name, capacity=Resources(cpus, memory), **kw)


def replica(
    spec: ServiceSpec, slot: str, epoch: int, on: str, made_of: str | None = None, **kw: Any
) -> Container:
    kw.setdefault("reserved", spec.resources)
    return Container(
        host=on, name=f"{spec.name}.{slot}.e{epoch}", service=spec.name, slot=slot, epoch=epoch,
        spec_hash=spec_hash(spec) if made_of is None else made_of, **kw,
    )  # fmt: skip


def records(*entries: tuple[str, int, str]) -> dict[str, SlotRecord]:
    return {slot: SlotRecord(slot, epoch, on) for slot, epoch, on in entries}


def plan_for(
    spec: ServiceSpec,
    hosts: tuple[HostView, ...],
    containers: tuple[Container, ...] = (),
    record: dict[str, SlotRecord] | None = None,
) -> ServicePlan:
    return reconcile(spec, ClusterView(hosts, containers), record or {})


def only(plan: ServicePlan) -> Action:
    assert len(plan.actions) == 1, plan.lines()
    return plan.actions[0]


HOSTS = (host("h1"), host("h2"), host("h3"))


# -- missing and extra replicas -----------------------------------------------------------------


def test_missing_replicas_are_placed_at_epoch_1():
    spec = service(replicas=2)
    plan = plan_for(spec, HOSTS)
    assert [(a.kind, a.slot, a.reason, a.host, a.epoch) for a in plan.actions] == [
        ("place", "1", "new replica", "h1", 1),
        ("place", "2", "new replica", "h2", 1),
    ]
    assert all(a.old is None and not a.start_first for a in plan.actions)
    assert plan.actions[0].new_name == "web.1.e1"
    assert plan.slots_after == records(("1", 1, "h1"), ("2", 1, "h2"))
    assert plan.changed and plan.keep == ()


def test_a_replica_gone_from_an_up_host_is_placed_at_the_next_epoch():
    spec = service(replicas=2)
    plan = plan_for(
        spec, HOSTS, (replica(spec, "1", 3, "h1"),), records(("1", 3, "h1"), ("2", 5, "h2"))
    )
    action = only(plan)
    assert (action.kind, action.slot, action.host, action.epoch) == ("place", "2", "h2", 6)
    assert action.reason == "container gone from h2"
    assert action.new_name == "web.2.e6"
    assert plan.slots_after == records(("1", 3, "h1"), ("2", 6, "h2"))


def test_a_replica_beyond_replicas_is_stopped_and_dropped_from_the_record():
    spec = service(replicas=2)
    running = (
        replica(spec, "1", 1, "h1"),
        replica(spec, "2", 1, "h2"),
        replica(spec, "3", 4, "h3"),
    )
    record = records(("1", 1, "h1"), ("2", 1, "h2"), ("3", 4, "h3"))
    plan = plan_for(spec, HOSTS, running, record)
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("stop", "3", running[2])
    assert action.reason == "slot 3 is beyond replicas 2"
    assert action.host is None and action.epoch == 0
    assert plan.slots_after == records(("1", 1, "h1"), ("2", 1, "h2"))
    assert plan.keep == running[:2]


def test_scaling_to_zero_stops_every_replica():
    spec = service(replicas=0)
    running = (replica(spec, "1", 1, "h1"), replica(spec, "2", 1, "h2"))
    plan = plan_for(spec, HOSTS, running, records(("1", 1, "h1"), ("2", 1, "h2")))
    assert [(a.kind, a.slot, a.reason) for a in plan.actions] == [
        ("stop", "1", "slot 1 is beyond replicas 0"),
        ("stop", "2", "slot 2 is beyond replicas 0"),
    ]
    assert plan.slots_after == {}


# -- updates ----------------------------------------------------------------------------------


def test_a_changed_spec_updates_stop_first_on_the_same_host():
    spec = service(image="app:2")
    old = replica(spec, "1", 1, "h2", made_of=OLD)
    plan = plan_for(spec, HOSTS, (old,), records(("1", 1, "h2")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("update", "1", old)
    assert (action.host, action.epoch, action.start_first) == ("h2", 2, False)
    assert action.reason == f"spec 0ld0ld0l -> {spec_hash(spec)[:8]}"
    assert plan.slots_after == records(("1", 2, "h2"))
    assert plan.keep == ()


def test_start_first_with_a_port_range_starts_beside_the_old_one_on_another_port():
    spec = service(image="app:2", ports=["30000-30010:80"], update={"order": "start-first"})
    old = replica(spec, "1", 1, "h2", made_of=OLD, ports=((80, 30000),))
    plan = plan_for(spec, HOSTS, (old,), records(("1", 1, "h2")))
    action = only(plan)
    assert (action.kind, action.slot, action.host, action.epoch) == ("update", "1", "h2", 2)
    assert action.start_first is True
    assert action.ports == ((80, 30001),)
    assert "stop-first" not in action.reason
    assert plan.slots_after == records(("1", 2, "h2"))


def test_start_first_with_a_fixed_port_on_a_full_cluster_falls_back_to_stop_first():
    spec = service(image="app:2", replicas=2, ports=["8080:80"], update={"order": "start-first"})
    running = (
        replica(spec, "1", 1, "h1", made_of=OLD, ports=((80, 8080),)),
        replica(spec, "2", 1, "h2", made_of=OLD, ports=((80, 8080),)),
    )
    hosts = (host("h1"), host("h2"))
    plan = plan_for(spec, hosts, running, records(("1", 1, "h1"), ("2", 1, "h2")))
    assert [(a.kind, a.slot, a.host, a.epoch, a.ports, a.start_first) for a in plan.actions] == [
        ("update", "1", "h1", 2, ((80, 8080),), False),
        ("update", "2", "h2", 2, ((80, 8080),), False),
    ]
    for action in plan.actions:
        assert action.reason.endswith("; stop-first: no room to start the new one first")
    assert plan.unplaced == ()


def test_start_first_with_a_fixed_port_moves_to_a_host_with_room():
    spec = service(image="app:2", ports=["8080:80"], update={"order": "start-first"})
    old = replica(spec, "1", 1, "h1", made_of=OLD, ports=((80, 8080),))
    plan = plan_for(spec, (host("h1"), host("h2")), (old,), records(("1", 1, "h1")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("update", "1", old)
    assert (action.host, action.epoch, action.ports) == ("h2", 2, ((80, 8080),))
    assert action.start_first is True
    assert "stop-first" not in action.reason
    assert plan.slots_after == records(("1", 2, "h2"))


def test_an_update_that_fits_nowhere_keeps_the_old_replica_and_says_why():
    spec = service(image="app:2", resources={"memory": "8G"})
    old = replica(spec, "1", 1, "h1", made_of=OLD, reserved=Resources(0, 512))
    plan = plan_for(spec, HOSTS, (old,), records(("1", 1, "h1")))
    assert plan.actions == ()
    assert not plan.changed
    assert plan.keep == (old,)
    (reason,) = plan.unplaced
    assert reason.startswith(f"slot 1 (spec 0ld0ld0l -> {spec_hash(spec)[:8]}): ")
    assert "memory" in reason and "8192 MB" in reason  # the scheduler's words
    assert plan.slots_after == records(("1", 1, "h1"))


# -- epochs -----------------------------------------------------------------------------------


def test_a_container_of_an_older_epoch_is_fenced():
    spec = service()
    current, stale = replica(spec, "1", 2, "h1"), replica(spec, "1", 1, "h3")
    plan = plan_for(spec, HOSTS, (current, stale), records(("1", 2, "h1")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("fence", "1", stale)
    assert action.reason == "stale: epoch 1 < current 2"
    assert action.host is None and action.epoch == 0
    assert plan.keep == (current,)
    assert plan.slots_after == records(("1", 2, "h1"))


def test_a_stale_container_is_fenced_even_when_the_current_one_is_gone():
    spec = service()
    stale = replica(spec, "1", 1, "h1")
    plan = plan_for(spec, HOSTS, (stale,), records(("1", 2, "h2")))
    assert [(a.kind, a.slot, a.reason, a.host, a.epoch) for a in plan.actions] == [
        ("fence", "1", "stale: epoch 1 < current 2", None, 0),
        ("place", "1", "container gone from h2", "h1", 3),
    ]


def test_a_container_of_a_newer_unconfirmed_epoch_is_stopped():
    spec = service()
    current, leftover = replica(spec, "1", 2, "h1"), replica(spec, "1", 3, "h3")
    plan = plan_for(spec, HOSTS, (current, leftover), records(("1", 2, "h1")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("stop", "1", leftover)
    assert action.reason == "left by an interrupted run (epoch 3 was never confirmed)"
    assert plan.keep == (current,)
    assert plan.slots_after == records(("1", 2, "h1"))


def test_an_older_store_adopts_the_newer_replicas_and_updates_them_gated():
    """An older copy of the store restored (issue 14): its epochs are behind what runs and its
    spec is older. The running replicas are adopted and brought back to the stored spec by
    gated updates; none is removed and placed anew at once."""
    spec = service(replicas=2)
    running = (replica(spec, "1", 7, "h1", OLD), replica(spec, "2", 4, "h2"))
    plan = plan_for(spec, HOSTS, running, records(("1", 5, "h1"), ("2", 2, "h3")))
    assert [(a.kind, a.slot, a.old.name if a.old else None) for a in plan.actions] == [
        ("update", "1", running[0].name)]
    assert plan.actions[0].epoch == 8
    assert plan.keep == (running[1],)
    assert plan.slots_after == records(("1", 8, "h1"), ("2", 4, "h2"))


def test_a_newer_replica_is_not_adopted_while_the_recorded_one_may_run_on_a_suspect_host():
    spec = service()
    leftover = replica(spec, "1", 3, "h1")
    view = ClusterView(HOSTS, (leftover,), suspect=frozenset({"h2"}))
    plan = reconcile(spec, view, records(("1", 2, "h2")))
    assert [(a.kind, a.old) for a in plan.actions] == [("stop", leftover)]
    assert plan.slots_after == records(("1", 2, "h2"))  # owed, waiting for h2's verdict


def test_a_lost_store_adopts_the_newest_epochs_and_changes_nothing():
    spec = service(replicas=2)
    running = (replica(spec, "1", 7, "h1"), replica(spec, "2", 4, "h2"))
    plan = plan_for(spec, HOSTS, running, {})
    assert plan.actions == () and not plan.changed
    assert plan.keep == running
    assert plan.slots_after == records(("1", 7, "h1"), ("2", 4, "h2"))


def test_a_lost_store_fences_the_older_copies_of_a_slot():
    spec = service()
    newest, older = replica(spec, "1", 7, "h1"), replica(spec, "1", 5, "h2")
    plan = plan_for(spec, HOSTS, (older, newest), {})
    action = only(plan)
    assert (action.kind, action.old, action.reason) == (
        "fence",
        older,
        "stale: epoch 5 < current 7",
    )
    assert plan.slots_after == records(("1", 7, "h1"))


# -- duplicates -------------------------------------------------------------------------------


def test_duplicates_keep_the_copy_where_the_store_says():
    spec = service()
    elsewhere, recorded = replica(spec, "1", 2, "h1"), replica(spec, "1", 2, "h3")
    plan = plan_for(spec, HOSTS, (elsewhere, recorded), records(("1", 2, "h3")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("stop", "1", elsewhere)
    assert action.reason == "duplicate of web.1.e2 on h3"
    assert plan.keep == (recorded,)
    assert plan.slots_after == records(("1", 2, "h3"))


def test_duplicates_keep_a_running_up_to_date_copy_first():
    spec = service()
    exited = replica(spec, "1", 2, "h1", state="exited")
    outdated = replica(spec, "1", 2, "h2", made_of=OLD)
    good = replica(spec, "1", 2, "h3")
    plan = plan_for(spec, HOSTS, (exited, outdated, good), records(("1", 2, "h1")))
    assert [(a.kind, a.old, a.reason) for a in plan.actions] == [
        ("stop", exited, "duplicate of web.1.e2 on h3"),
        ("stop", outdated, "duplicate of web.1.e2 on h3"),
    ]
    assert plan.keep == (good,)
    assert plan.slots_after == records(("1", 2, "h3"))


def test_duplicates_without_a_record_keep_one_by_host_name():
    spec = service()
    copies = (replica(spec, "1", 3, "h2"), replica(spec, "1", 3, "h1"))
    plan = plan_for(spec, HOSTS, copies, {})
    action = only(plan)
    assert (action.kind, action.old.host, action.reason) == (
        "stop",
        "h2",
        "duplicate of web.1.e3 on h1",
    )
    assert plan.slots_after == records(("1", 3, "h1"))


# -- moving off hosts -------------------------------------------------------------------------


def test_a_replica_on_a_drained_host_migrates_at_the_next_epoch():
    spec = service(replicas=2)
    hosts = (host("h1", schedulable=False), host("h2"), host("h3"))
    running = (replica(spec, "1", 2, "h1"), replica(spec, "2", 1, "h2"))
    plan = plan_for(spec, hosts, running, records(("1", 2, "h1"), ("2", 1, "h2")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("migrate", "1", running[0])
    assert (action.reason, action.host, action.epoch) == ("host h1 drained", "h3", 3)
    assert plan.keep == (running[1],)
    assert plan.slots_after == records(("1", 3, "h3"), ("2", 1, "h2"))


def test_a_replica_on_a_host_that_no_longer_matches_a_constraint_migrates():
    spec = service(constraints=["zone == a"])
    hosts = (host("h1", attributes={"zone": "b"}), host("h2", attributes={"zone": "a"}))
    old = replica(spec, "1", 2, "h1")
    plan = plan_for(spec, hosts, (old,), records(("1", 2, "h1")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("migrate", "1", old)
    assert action.reason == "host h1 no longer matches zone == a"
    assert (action.host, action.epoch) == ("h2", 3)
    assert plan.slots_after == records(("1", 3, "h2"))


def test_a_replica_on_a_host_that_is_no_longer_a_candidate_migrates():
    spec = service()
    old = replica(spec, "1", 1, "gone")
    plan = plan_for(spec, HOSTS, (old,), records(("1", 1, "gone")))
    action = only(plan)
    assert (action.kind, action.reason, action.host, action.epoch) == (
        "migrate", "gone is no longer a candidate host", "h1", 2,
    )  # fmt: skip


def test_a_replica_recorded_on_a_down_host_is_lost_and_placed_elsewhere():
    spec = service(replicas=2)
    hosts = (host("h1", up=False), host("h2"), host("h3"))
    running = (replica(spec, "2", 1, "h2"),)
    plan = plan_for(spec, hosts, running, records(("1", 2, "h1"), ("2", 1, "h2")))
    action = only(plan)
    assert (action.kind, action.slot, action.old) == ("lost", "1", None)
    assert (action.reason, action.host, action.epoch) == ("host h1 is down", "h3", 3)
    assert plan.slots_after == records(("1", 3, "h3"), ("2", 1, "h2"))


def test_a_lost_replica_with_nowhere_to_go_keeps_its_record():
    spec = service()
    hosts = (host("h1", up=False), host("h2", schedulable=False))
    plan = plan_for(spec, hosts, (), records(("1", 2, "h1")))
    assert plan.actions == ()
    (reason,) = plan.unplaced
    assert reason.startswith("slot 1 (host h1 is down): 1 of 1 replicas of web not placed: ")
    assert "down" in reason and "drained" in reason
    assert plan.slots_after == records(("1", 2, "h1"))


# -- restarts and removal -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "exit_code", "reason"),
    [("exited", 137, "exited with code 137"), ("exited", 0, "exited with code 0"),
     ("created", 0, "created"), ("paused", 0, "paused")],
)  # fmt: skip
def test_a_replica_not_running_with_the_same_spec_is_restarted(state, exit_code, reason):
    spec = service(replicas=2)
    down = replica(spec, "1", 1, "h1", state=state, exit_code=exit_code)
    fine = replica(spec, "2", 1, "h2")
    plan = plan_for(spec, HOSTS, (down, fine), records(("1", 1, "h1"), ("2", 1, "h2")))
    action = only(plan)
    assert (action.kind, action.slot, action.old, action.reason) == ("restart", "1", down, reason)
    assert action.host is None and action.epoch == 0
    assert plan.keep == (down, fine)
    assert plan.slots_after == records(("1", 1, "h1"), ("2", 1, "h2"))


def test_a_replica_to_restart_keeps_its_port_and_reservation():
    spec = service(replicas=2, ports=["8080:80"], resources={"memory": "3G"})
    hosts = (host("h1"), host("h2"))
    down = replica(spec, "1", 1, "h1", state="exited", exit_code=1, ports=((80, 8080),))
    plan = plan_for(spec, hosts, (down,), records(("1", 1, "h1")))
    assert [(a.kind, a.slot) for a in plan.actions] == [("restart", "1"), ("place", "2")]
    assert plan.bucket("place")[0].host == "h2"


@pytest.mark.parametrize("state", ["created", "paused", "restarting"])
def test_a_live_replica_to_restart_is_counted_once(state):
    spec = service(replicas=2, resources={"cpus": 0.5})
    waiting = replica(spec, "1", 1, "h1", state=state)
    plan = plan_for(spec, (host("h1", cpus=1),), (waiting,), records(("1", 1, "h1")))
    assert plan.usage_after["h1"].reserved == Resources(1, 0)  # 2 x 0.5 cpus, not 3
    assert [(a.kind, a.slot, a.host) for a in plan.actions] == [
        ("restart", "1", None),
        ("place", "2", "h1"),
    ]
    assert plan.unplaced == ()


def test_an_exited_replica_with_another_spec_is_updated_not_restarted():
    spec = service(image="app:2")
    old = replica(spec, "1", 1, "h1", made_of=OLD, state="exited", exit_code=1)
    action = only(plan_for(spec, HOSTS, (old,), records(("1", 1, "h1"))))
    assert (action.kind, action.host, action.epoch) == ("update", "h1", 2)


def test_state_absent_stops_every_replica_and_forgets_the_slots():
    spec = parse_service({"name": "web", "state": "absent"})
    made = service()
    running = (
        replica(made, "1", 1, "h1"),
        replica(made, "2", 1, "h2", state="exited"),
        replica(made, "2", 0, "h3"),
    )
    plan = plan_for(spec, HOSTS, running, records(("1", 1, "h1"), ("2", 1, "h2")))
    assert sorted((a.kind, a.old.name, a.old.host, a.reason) for a in plan.actions) == [
        ("stop", "web.1.e1", "h1", "service removed (state: absent)"),
        ("stop", "web.2.e0", "h3", "service removed (state: absent)"),
        ("stop", "web.2.e1", "h2", "service removed (state: absent)"),
    ]
    assert plan.slots_after == {} and plan.keep == ()


# -- global services ----------------------------------------------------------------------------

ZONED = (
    host("h1", attributes={"zone": "a"}),
    host("h2", attributes={"zone": "a"}, schedulable=False),
    host("h3", attributes={"zone": "a"}),
    host("h4", attributes={"zone": "b"}),
    host("h5", attributes={"zone": "a"}, up=False),
)


def agent(**args: Any) -> ServiceSpec:
    return parse_service({"name": "agent", "image": "agent:1", "mode": "global",
                          "constraints": ["zone == a"], **args})  # fmt: skip


def test_a_global_service_places_one_replica_per_eligible_host():
    spec = agent()
    plan = plan_for(spec, ZONED)
    assert [(a.kind, a.slot, a.host, a.epoch, a.reason) for a in plan.actions] == [
        ("place", "h1", "h1", 1, "new replica"),
        ("place", "h3", "h3", 1, "new replica"),
    ]
    assert plan.actions[0].new_name == "agent.h1.e1"
    assert plan.slots_after == records(("h1", 1, "h1"), ("h3", 1, "h3"))


def test_a_global_service_follows_its_hosts():
    spec = agent()
    running = (
        replica(spec, "h1", 1, "h1"),
        replica(spec, "h2", 4, "h2"),  # drained
        replica(spec, "h4", 1, "h4"),  # zone b no longer fits
    )
    record = records(("h1", 1, "h1"), ("h2", 4, "h2"), ("h4", 1, "h4"))
    plan = plan_for(spec, ZONED, running, record)
    assert [(a.kind, a.slot, a.old.host if a.old else a.host, a.epoch, a.reason)
            for a in plan.actions] == [
        ("stop", "h2", "h2", 0, "host h2 drained"),
        ("stop", "h4", "h4", 0, "host h4 no longer fits the service"),
        ("place", "h3", "h3", 1, "new replica"),
    ]  # fmt: skip
    assert plan.keep == (running[0],)
    assert plan.slots_after == records(("h1", 1, "h1"), ("h3", 1, "h3"))


def test_a_global_replica_of_a_host_no_longer_listed_is_stopped():
    spec = agent()
    ghost = replica(spec, "h9", 1, "h1")
    plan = plan_for(spec, ZONED[:1], (replica(spec, "h1", 1, "h1"), ghost))
    action = only(plan)
    assert (action.kind, action.old, action.reason) == ("stop", ghost, "h9 is not a candidate host")


def test_a_global_service_updates_each_replica_on_its_own_host():
    spec = agent(image="agent:2")
    running = (replica(spec, "h1", 1, "h1", made_of=OLD), replica(spec, "h3", 2, "h3", made_of=OLD))
    plan = plan_for(spec, ZONED, running, records(("h1", 1, "h1"), ("h3", 2, "h3")))
    assert [(a.kind, a.slot, a.host, a.epoch) for a in plan.actions] == [
        ("update", "h1", "h1", 2),
        ("update", "h3", "h3", 3),
    ]


def test_a_global_start_first_update_stays_on_the_slots_host():
    spec = agent(image="agent:2", resources={"cpus": 1}, update={"order": "start-first"})
    hosts = (host("h1", cpus=1, attributes={"zone": "a"}), host("h3", attributes={"zone": "a"}))
    running = (
        replica(spec, "h1", 1, "h1", made_of=OLD, reserved=Resources(1, 0)),
        replica(spec, "h3", 1, "h3", made_of=OLD, reserved=Resources(1, 0)),
    )
    plan = plan_for(spec, hosts, running, records(("h1", 1, "h1"), ("h3", 1, "h3")))
    by_slot = {a.slot: a for a in plan.actions}
    assert by_slot["h1"].host == "h1"
    assert by_slot["h1"].reason.endswith("; stop-first: no room to start the new one first")
    assert by_slot["h3"].host == "h3"


# -- nothing fits, nothing to do ---------------------------------------------------------------


def test_replicas_that_fit_nowhere_are_unplaced_with_the_reason():
    spec = service(replicas=2, ports=["8080:80"])
    plan = plan_for(spec, (host("h1"),))
    action = only(plan)
    assert (action.kind, action.slot, action.host, action.ports) == (
        "place",
        "1",
        "h1",
        ((80, 8080),),
    )
    (reason,) = plan.unplaced
    assert reason.startswith("slot 2 (new replica): 1 of 2 replicas of web not placed: ")
    assert "port 8080" in reason
    assert "2" not in plan.slots_after
    assert plan.lines()[-1] == f"unplaced web: {plan.unplaced[0]}"


def test_nothing_fits_means_no_action_at_all():
    spec = service(replicas=2, resources={"memory": "8G"})
    plan = plan_for(spec, HOSTS)
    assert plan.actions == () and not plan.changed
    first, second = plan.unplaced
    assert first.startswith("slot 1 (new replica): 2 of 2 replicas of web not placed: ")
    assert second.startswith("slot 2 (new replica): 2 of 2 replicas of web not placed: ")
    for reason in plan.unplaced:
        assert "memory" in reason and "8192 MB" in reason  # the scheduler's words
    assert plan.slots_after == {}
    # Said once for both slots.
    (summary,) = plan.unplaced_summary()
    assert summary.startswith("slots 1, 2 (new replica): 2 of 2 replicas of web not placed: ")


def test_many_unplaced_slots_are_summed_up_in_one_line():
    spec = service(replicas=500, max_per_host=1)
    plan = plan_for(spec, HOSTS)
    assert len(plan.unplaced) == 497
    assert plan.unplaced_summary() == [
        "slots 4, 5 ... 500 (497 slots, new replica): 497 of 500 replicas of web not placed: "
        "3 hosts ruled out by max_per_host 1"]  # fmt: skip


def test_nothing_to_do():
    spec = service(replicas=3)
    running = (
        replica(spec, "1", 1, "h1"),
        replica(spec, "2", 4, "h2"),
        replica(spec, "3", 2, "h1"),
    )
    record = records(("1", 1, "h1"), ("2", 4, "h2"), ("3", 2, "h1"))
    plan = plan_for(spec, HOSTS, running, record)
    assert plan.actions == ()
    assert plan.changed is False
    assert plan.keep == running
    assert plan.unplaced == ()
    assert plan.slots_after == record
    assert plan.summary() == "no change" and plan.counts() == {} and plan.lines() == []
    assert plan.spec_hash == spec_hash(spec) and plan.service == "web"


def test_other_services_are_left_alone_but_take_room():
    spec = service(ports=["8080:80"])
    other = Container("h1", "api.1.e1", "api", "1", 1, "abc", ports=((80, 8080),))
    plan = plan_for(spec, (host("h1"), host("h2")), (other,))
    action = only(plan)
    assert (action.kind, action.host) == ("place", "h2")
    assert plan.usage_after["h1"].ports == {8080}
    assert plan.usage_after["h2"].ports == {8080}


# -- the plan's shape -------------------------------------------------------------------------


def mixed() -> tuple[ServicePlan, dict[str, Container]]:
    """One plan with an action in every bucket."""
    spec = service(image="app:2", replicas=6)
    hosts = (
        host("h1", schedulable=False),
        host("h2"),
        host("h3"),
        host("h4"),
        host("h5", up=False),
    )
    seen = {
        "migrating": replica(spec, "1", 2, "h1"),
        "current": replica(spec, "2", 2, "h3"),
        "stale": replica(spec, "2", 1, "h2"),
        "outdated": replica(spec, "3", 1, "h2", made_of=OLD),
        "exited": replica(spec, "4", 1, "h3", state="exited", exit_code=2),
        "extra": replica(spec, "7", 1, "h4"),
    }
    record = records(("1", 2, "h1"), ("2", 2, "h3"), ("3", 1, "h2"), ("4", 1, "h3"),
                     ("5", 3, "h5"), ("7", 1, "h4"))  # fmt: skip
    return plan_for(spec, hosts, tuple(seen.values()), record), seen


def test_a_plan_with_every_bucket_in_execution_order():
    plan, seen = mixed()
    assert [(a.kind, a.slot) for a in plan.actions] == [
        ("fence", "2"), ("stop", "7"), ("restart", "4"), ("place", "6"), ("lost", "5"),
        ("migrate", "1"), ("update", "3"),
    ]  # fmt: skip
    assert [a.kind for a in plan.actions] == list(BUCKETS)
    assert plan.bucket("fence")[0].old == seen["stale"]
    assert plan.bucket("stop")[0].old == seen["extra"]
    assert plan.bucket("restart")[0].old == seen["exited"]
    assert plan.bucket("migrate")[0].old == seen["migrating"]
    assert plan.bucket("update")[0].old == seen["outdated"]
    assert plan.counts() == dict.fromkeys(BUCKETS, 1)
    assert plan.summary() == "1 fence, 1 stop, 1 restart, 1 place, 1 lost, 1 migrate, 1 update"


def test_the_plans_slots_after_follow_its_actions():
    plan, _ = mixed()
    by_kind = {a.kind: a for a in plan.actions}
    expected = {
        "1": SlotRecord("1", 3, by_kind["migrate"].host),
        "2": SlotRecord("2", 2, "h3"),
        "3": SlotRecord("3", 2, by_kind["update"].host),
        "4": SlotRecord("4", 1, "h3"),
        "5": SlotRecord("5", 4, by_kind["lost"].host),
        "6": SlotRecord("6", 1, by_kind["place"].host),
    }
    assert plan.slots_after == expected
    assert by_kind["update"].host == "h2"  # stop-first: in place
    for kind in ("place", "lost", "migrate"):
        assert by_kind[kind].host in ("h2", "h3", "h4")


def test_plan_lines_mention_every_action():
    plan, seen = mixed()
    lines = plan.lines()
    assert len(lines) == len(plan.actions)
    for line, action in zip(lines, plan.actions, strict=True):
        assert line.startswith(f"{action.kind:8} web slot {action.slot}: ")
        assert line.endswith(f"({action.reason})")
        if action.old is not None:
            assert f"{action.old.name} on {action.old.host}" in line
        if action.host is not None:
            assert f"{action.new_name} on {action.host}" in line
    assert lines[0] == "fence    web slot 2: web.2.e1 on h2 (stale: epoch 1 < current 2)"
    assert lines[2] == "restart  web slot 4: web.4.e1 on h3 (exited with code 2)"
    update = plan.bucket("update")[0]
    assert lines[-1] == (f"update   web slot 3: web.3.e1 on h2 -> web.3.e2 on h2 ({update.reason})")


def test_plan_lines_show_published_ports():
    spec = service(ports=["30000-30010:80", "8443:443"])
    (line,) = plan_for(spec, (host("h1"),)).lines()
    assert line == "place    web slot 1: web.1.e1 on h1 port 30000->80,8443->443 (new replica)"


def test_actions_in_a_bucket_follow_the_natural_slot_order():
    plan = plan_for(service(replicas=11), HOSTS)
    assert [a.slot for a in plan.actions] == [str(i) for i in range(1, 12)]
    spec = service(replicas=0)
    running = tuple(replica(spec, str(i), 1, "h1") for i in (10, 2, 1))
    assert [a.slot for a in plan_for(spec, HOSTS, running).actions] == ["1", "2", "10"]


# -- converging: carrying out a plan leaves nothing to do ----------------------------------------

SLOTS = [str(i) for i in range(1, 7)]
STATES = ["running", "running", "exited", "created", "paused", "restarting"]
LIVE = ("running", "restarting", "created", "paused")  # states that hold resources and ports
NEW = ("place", "lost", "migrate", "update")  # the kinds that start a new replica
BIG = Resources(64, 65536)
CAPACITIES = [BIG, BIG, Resources(2, 1024), Resources(1, 256)]
OTHER_RESERVED = [Resources(0, 0), Resources(0.5, 64), Resources(1, 256)]


def carry_out(
    plan: ServicePlan, spec: ServiceSpec, containers: tuple[Container, ...]
) -> list[Container]:
    """What runs after every action of the plan has been done."""
    result = {(c.host, c.name): c for c in containers}
    for action in plan.actions:
        if action.old is not None:
            key = (action.old.host, action.old.name)
            assert key in result, f"{action.kind} of a container already gone: {key}"
            if action.kind == "restart":
                result[key] = replace(action.old, state="running")
                continue
            del result[key]
        if action.kind in NEW:
            assert action.host is not None
            key = (action.host, action.new_name)
            assert key not in result, f"{action.new_name} already runs on {action.host}"
            result[key] = Container(
                host=action.host, name=action.new_name, service=spec.name, slot=action.slot,
                epoch=action.epoch, spec_hash=plan.spec_hash, reserved=spec.resources,
                ports=action.ports,
            )  # fmt: skip
    return sorted(result.values(), key=lambda c: (c.slot, c.host, c.name))


@st.composite
def cluster_states(
    draw: st.DrawFn, mode: str, troubled: bool = False
) -> tuple[ServiceSpec, ClusterView, dict]:
    """A service, a cluster and a slot record. `troubled` adds what a real cluster also has:
    hosts down (declared) or suspect (unreachable, not yet declared), small hosts, other
    services' containers and busy ports, and a view narrowed to some candidate hosts. As in
    reality, containers are only seen on reachable hosts; the record may still point anywhere."""
    count = draw(st.integers(2, 5) if troubled else st.integers(1, 4))
    names = [f"h{i}" for i in range(1, count + 1)]
    if troubled:
        health = {n: draw(st.sampled_from(["up", "up", "up", "down", "suspect"])) for n in names}
        drained = draw(st.sets(st.sampled_from(names), max_size=2))
        capacity = {n: draw(st.sampled_from(CAPACITIES)) for n in names}
    else:
        health = dict.fromkeys(names, "up")
        drained = draw(st.sets(st.sampled_from(names), max_size=len(names) - 1))
        capacity = dict.fromkeys(names, BIG)
    hosts = tuple(
        HostView(n, capacity=capacity[n], up=health[n] == "up", schedulable=n not in drained)
        for n in names
    )
    reachable = [n for n in names if health[n] == "up"]
    args: dict[str, Any] = {
        "name": "web",
        "image": draw(st.sampled_from(["app:1", "app:2"])),
        "resources": {"cpus": 0.5, "memory": "64M"},
        "update": {
            "order": draw(st.sampled_from(["stop-first", "start-first"])),
            "parallelism": draw(st.integers(1, 3)),
        },
    }
    if draw(st.booleans()):
        args["ports"] = ["30000-30999:80"]
    if mode == "global":
        args["mode"] = "global"
    else:
        args["replicas"] = draw(st.integers(0, 4))
    spec = parse_service(args)
    made_of = st.sampled_from([spec_hash(spec), OLD])
    slot = st.sampled_from(SLOTS)
    entries = []
    if reachable:
        seen_on = st.sampled_from(reachable)
        entries = draw(
            st.lists(
                st.tuples(slot, st.integers(1, 4), seen_on, made_of, st.sampled_from(STATES)),
                max_size=10,
                # docker names are unique per host: one (slot, epoch) per host
                unique_by=lambda e: (e[2] if mode == "global" else e[0], e[1], e[2]),
            )
        )
    containers = []
    for index, (n, epoch, on, made, state) in enumerate(entries):
        slot_name = on if mode == "global" else n  # a global replica's slot is its host
        # An exited replica's ports are left out: see
        # test_a_replica_to_restart_keeps_its_port_and_reservation for why.
        ports = ((80, 30000 + index),) if "ports" in args and state != "exited" else ()
        containers.append(
            Container(
                host=on,
                name=f"web.{slot_name}.e{epoch}",
                service="web",
                slot=slot_name,
                epoch=epoch,
                spec_hash=made,
                state=state,
                reserved=spec.resources,
                ports=ports,
            )
        )
    ports_in_use: dict[str, tuple[int, ...]] = {}
    if troubled and reachable:
        rows = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["api", "db"]), st.sampled_from(SLOTS[:3]),
                    st.integers(1, 2), st.sampled_from(reachable), st.sampled_from(STATES),
                    st.sampled_from(OTHER_RESERVED), st.sampled_from([0, 30000, 30001, 30002]),
                ),
                max_size=6,
                unique_by=lambda r: (r[0], r[1], r[2], r[3]),
            )
        )  # fmt: skip
        # Two live containers never publish one host port.
        bound = {(c.host, p) for c in containers if c.state in LIVE for _, p in c.ports}
        for svc, n, epoch, on, state, reserved, port in rows:
            if state in LIVE and (on, port) in bound:
                port = 0
            elif state in LIVE:
                bound.add((on, port))
            containers.append(
                Container(
                    host=on, name=f"{svc}.{n}.e{epoch}", service=svc, slot=n, epoch=epoch,
                    spec_hash="0th3r0th3r0t", state=state, reserved=reserved,
                    ports=((80, port),) if port else (),
                )
            )  # fmt: skip
        busy = st.sets(st.sampled_from([22, 30000, 30001, 30003]), max_size=2)
        ports_in_use = {n: tuple(sorted(draw(busy))) for n in reachable}
    record_slots = names if mode == "global" else SLOTS
    # A retired slot's record has no host; records on unreachable hosts are made likelier.
    unreachable = [n for n in names if health[n] != "up"]
    record_hosts = st.sampled_from(names + [""] + 2 * unreachable if troubled else names)
    record = draw(
        st.dictionaries(st.sampled_from(record_slots), st.tuples(st.integers(1, 4), record_hosts))
    )
    record = {s: SlotRecord(s, epoch, on) for s, (epoch, on) in record.items()}
    view = ClusterView(
        hosts,
        tuple(containers),
        ports_in_use,
        suspect=frozenset(n for n in names if health[n] == "suspect"),
    )
    if troubled and draw(st.booleans()):
        view = view.for_service(set(names) - draw(st.sets(st.sampled_from(names), max_size=2)))
    return spec, view, record


def wanted_slots(spec: ServiceSpec, view: ClusterView) -> list[str]:
    """Replicated: 1..N. Global: the candidate hosts that are up, not drained and have room
    beside the other services (the port range always has a free port here)."""
    if spec.mode != "global":
        return [str(i) for i in range(1, spec.replicas + 1)]
    others = [c for c in view.containers if c.service != spec.name and c.state in LIVE]
    return [
        h.name
        for h in view.placeable
        if h.up
        and h.schedulable
        and (
            sum((c.reserved for c in others if c.host == h.name), Resources()) + spec.resources
        ).fits_within(h.capacity)
    ]


def unplaced_slots(plan: ServicePlan) -> set[str]:
    """The slots named by the plan's unplaced reasons ("slot 2 (...): ..." or "slot h1: ...")."""
    return {r.removeprefix("slot ").split(" ", 1)[0].removesuffix(":") for r in plan.unplaced}


def check_converges(
    spec: ServiceSpec, view: ClusterView, record: dict, *, must_place: bool = False
) -> None:
    """The plan respects the world (hosts down, suspect, drained or not candidates, other
    services, capacity and ports) and, when nothing is owed or waited for, carrying it out
    converges: reconciling the result asks for nothing more."""
    plan = reconcile(spec, view, record)
    lines = plan.lines()
    if must_place:
        assert plan.unplaced == (), lines
    by_name = {h.name: h for h in view.hosts}
    suspect = set(view.suspect)
    down = {h.name for h in view.hosts if not h.up} - suspect
    candidates = {h.name for h in view.placeable}
    fit_for_new = {h.name for h in view.placeable if h.up and h.schedulable} - suspect
    mine = [c for c in view.containers if c.service == spec.name]
    wanted = wanted_slots(spec, view)
    unplaced = unplaced_slots(plan)

    # Only this service's containers, only what was seen, and new replicas only where they may go.
    for action in plan.actions:
        assert action.service == spec.name, lines
        if action.old is not None:
            assert action.old in mine, lines
            assert action.old.host not in suspect | down, lines
        if action.kind in NEW:
            assert action.host in fit_for_new, lines
    for c in plan.keep:
        assert c in mine, lines
        assert c.host in candidates and by_name[c.host].schedulable, lines

    # A container on a reachable host that is not a candidate is never kept: it is migrated,
    # stopped or fenced, or its move is owed (unplaced).
    acted_on = {(a.old.host, a.old.name): a.kind for a in plan.actions if a.old is not None}
    for c in mine:
        if c.host not in candidates:
            assert c not in plan.keep, lines
            kind = acted_on.get((c.host, c.name))
            owed = kind is None and c.slot in unplaced
            assert kind in ("migrate", "stop", "fence") or owed, (c, lines)

    # Suspect hosts are waited for; slots recorded on down hosts are lost and replaced.
    seen = {(c.slot, c.epoch) for c in mine}
    for slot, known in record.items():
        if known.host in suspect:
            replaced = [a for a in plan.actions if a.slot == slot and a.kind in ("place", "lost")]
            assert not replaced, lines
            if slot in wanted and (slot, known.epoch) not in seen:
                assert slot not in unplaced, lines
                assert plan.slots_after.get(slot) == known, lines  # owed, not forgotten
        # A newer live replica of the slot is adopted (an interrupted move, an older store).
        newer = any(c.slot == slot and c.epoch > known.epoch and c.state in LIVE for c in mine)
        if known.host in down and slot in wanted and (slot, known.epoch) not in seen and \
                not newer:  # fmt: skip
            lost = [a for a in plan.actions if a.slot == slot and a.kind == "lost"]
            assert [a.reason for a in lost] == [f"host {known.host} is down"] or (
                not lost and slot in unplaced
            ), (slot, lines)
            if not lost:
                assert plan.slots_after.get(slot) == known, lines

    # Carried out, new replicas fit their hosts counting every service, and take free ports.
    after = carry_out(plan, spec, view.containers)
    started = {(a.host, a.new_name) for a in plan.actions if a.kind in NEW}
    new = [c for c in after if (c.host, c.name) in started]
    assert len(new) == len(started)
    for on in {c.host for c in new}:
        live = [c for c in after if c.host == on and c.state in LIVE]
        used = sum((c.reserved for c in live), Resources())
        assert used.fits_within(by_name[on].capacity), (on, used, lines)
    # A host's busy ports include those its containers publish: a removed one frees its own.
    removed = [a.old for a in plan.actions if a.old is not None and a.kind != "restart"]
    freed = {(c.host, p) for c in removed for _, p in c.ports}
    for c in new:
        for _, port in c.ports:
            busy = view.ports_in_use.get(c.host, ())
            assert port not in busy or (c.host, port) in freed, (c, lines)
            taken = [
                o for o in after
                if o is not c and o.host == c.host and o.state in LIVE
                and port in (p for _, p in o.ports)
            ]  # fmt: skip
            assert not taken, (c, taken, lines)
    # What the plan expects each host to carry is what runs there once it is carried out.
    for h in view.hosts:
        live = [c for c in after if c.host == h.name and c.state in LIVE]
        expected = plan.usage_after.get(h.name, HostUsage())
        carried = sum((c.reserved for c in live), Resources())
        assert abs(expected.reserved.cpus - carried.cpus) < 1e-9, (h.name, lines)
        assert expected.reserved.memory_mb == carried.memory_mb, (h.name, lines)
        assert expected.containers == len(live), (h.name, lines)
        assert expected.per_service == dict(Counter(c.service for c in live)), (h.name, lines)
    assert [c for c in after if c.service != spec.name] == sorted(
        (c for c in view.containers if c.service != spec.name),
        key=lambda c: (c.slot, c.host, c.name),
    )

    if suspect or plan.unplaced:
        return  # something is waited for or owed: the next run has work left
    mine_after = [c for c in after if c.service == spec.name]
    assert sorted(c.slot for c in mine_after) == sorted(wanted), lines
    for c in mine_after:
        assert c.spec_hash == plan.spec_hash and c.running, lines
        assert c.host in fit_for_new
        if spec.mode == "global":
            assert c.host == c.slot
    ports = [(c.host, port) for c in mine_after for _, port in c.ports]
    assert len(ports) == len(set(ports)), "two replicas publish one host port"
    assert plan.slots_after == {c.slot: SlotRecord(c.slot, c.epoch, c.host) for c in mine_after}
    again = reconcile(spec, replace(view, containers=tuple(after)), plan.slots_after)
    assert again.actions == () and again.unplaced == (), again.lines()
    assert sorted(again.keep, key=lambda c: (c.slot, c.host, c.name)) == mine_after
    assert again.slots_after == plan.slots_after


@settings(max_examples=300, deadline=None)
@given(cluster_states("replicated"))
def test_a_replicated_service_converges_in_one_plan(state):
    check_converges(*state, must_place=True)


@settings(max_examples=200, deadline=None)
@given(cluster_states("global"))
def test_a_global_service_converges_in_one_plan(state):
    check_converges(*state, must_place=True)


@settings(max_examples=200, deadline=None)
@given(cluster_states("replicated", troubled=True))
def test_a_replicated_service_respects_down_suspect_and_other_hosts(state):
    check_converges(*state)


@settings(max_examples=150, deadline=None)
@given(cluster_states("global", troubled=True))
def test_a_global_service_respects_down_suspect_and_other_hosts(state):
    check_converges(*state)
