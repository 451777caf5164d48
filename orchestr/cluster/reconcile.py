"""Reconcile (pure): a service's desired spec + what runs + the hosts' health + the store's slot
record -> a plan in named buckets (fence, stop, restart, place, lost, migrate, update), each
action with its reason and, for new replicas, the host, ports and epoch chosen.

Slots and epochs: replica N of a service is slot N (a host name for a global service). Every
new container of a slot gets the next epoch; the store records the epoch that is current. A
container of an older epoch is stale and is fenced (removed) wherever it shows up."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from orchestr.cluster.constraints import satisfies
from orchestr.cluster.model import (
    LIVE_STATES,
    Container,
    HostUsage,
    HostView,
    slot_key,
    usage_from,
)
from orchestr.cluster.scheduler import Assignment, PlacementRequest, place
from orchestr.cluster.spec import spec_hash
from orchestr.cluster.spec_types import ServiceSpec

# Execution order: make room and drop what must not serve, then add capacity, then replace.
BUCKETS = ("fence", "stop", "restart", "place", "lost", "migrate", "update")


@dataclass(frozen=True)
class SlotRecord:
    """Where the store says a slot's current replica lives, and its epoch."""

    slot: str
    epoch: int
    host: str


@dataclass(frozen=True)
class Action:
    kind: str  # one of BUCKETS
    service: str
    slot: str
    reason: str
    old: Container | None = None  # the container removed, restarted or replaced
    host: str | None = None  # where the new replica goes (place, lost, migrate, update)
    epoch: int = 0  # the new replica's epoch
    ports: tuple[tuple[int, int], ...] = ()  # (container port, host port) of the new replica
    start_first: bool = False  # update: the new replica starts before the old one stops
    avoid: str = ""  # a host the new replica must not go to (the one it kept failing on)

    @property
    def new_name(self) -> str:
        from orchestr.cluster.commands import container_name

        return container_name(self.service, self.slot, self.epoch)


@dataclass(frozen=True)
class ClusterView:
    """What reconcile reads besides the spec: the cluster's hosts (with up/schedulable set),
    every managed container seen on reachable hosts (all services), and the hosts' busy ports.
    `candidates` narrows where this service may be placed; the rest of the world still counts
    (its containers are seen, fenced and moved off, its suspect hosts waited for)."""

    hosts: tuple[HostView, ...]
    containers: tuple[Container, ...] = ()
    ports_in_use: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # Unreachable, but not (yet) declared down: what runs there is unknown, so its replicas are
    # neither kept nor replaced, and nothing new goes there.
    suspect: frozenset[str] = frozenset()
    # Containers to move off their host whatever else holds (name -> why): kept failing there.
    evict: Mapping[str, str] = field(default_factory=dict)
    candidates: frozenset[str] | None = None  # None: every host is a candidate

    def for_service(self, candidates: Iterable[str]) -> ClusterView:
        return replace(self, candidates=frozenset(candidates))

    @property
    def placeable(self) -> tuple[HostView, ...]:
        """The hosts this service may run on: the candidates among the cluster's hosts."""
        if self.candidates is None:
            return self.hosts
        return tuple(h for h in self.hosts if h.name in self.candidates)


@dataclass(frozen=True)
class ServicePlan:
    service: str
    spec_hash: str
    actions: tuple[Action, ...] = ()
    keep: tuple[Container, ...] = ()
    unplaced: tuple[str, ...] = ()  # why some replicas have nowhere to go
    slots_after: Mapping[str, SlotRecord] = field(default_factory=dict)
    usage_after: Mapping[str, HostUsage] = field(default_factory=dict)

    def bucket(self, kind: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind == kind)

    def unplaced_summary(self) -> list[str]:
        """The unplaced reasons once each: slots with the same reason said together, so 500
        replicas that fit nowhere make one line, not 500."""
        by_reason: dict[tuple[str, str], list[str]] = {}
        for text in self.unplaced:  # "slot 4 (new replica): why" or "slot h1: why"
            head, _, why = text.partition(": ")
            slot, _, kind = head.removeprefix("slot ").partition(" ")
            by_reason.setdefault((kind.strip("()"), why), []).append(slot)
        out = []
        for (kind, why), slots in by_reason.items():
            named, notes = ", ".join(slots), [kind]
            if len(slots) > 3:
                named, notes = f"{slots[0]}, {slots[1]} ... {slots[-1]}", [f"{len(slots)} slots",
                                                                          kind]  # fmt: skip
            note = ", ".join(n for n in notes if n)
            out.append(f"slot{'s' if len(slots) > 1 else ''} {named}"
                       f"{f' ({note})' if note else ''}: {why}")  # fmt: skip
        return out

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def counts(self) -> dict[str, int]:
        return {kind: len(self.bucket(kind)) for kind in BUCKETS if self.bucket(kind)}

    def summary(self) -> str:
        parts = [f"{n} {kind}" for kind, n in self.counts().items()]
        return ", ".join(parts) if parts else "no change"

    def lines(self) -> list[str]:
        """The plan as people read it: one line per action, with its reason."""
        out = []
        for action in self.actions:
            old = action.old
            where = f"{old.name} on {old.host}" if old else ""
            new = f"{action.new_name} on {action.host}" if action.host else ""
            if action.ports:
                new += " port " + ",".join(f"{h}->{t}" for t, h in action.ports)
            text = " -> ".join(p for p in (where, new) if p) or f"slot {action.slot}"
            out.append(
                f"{action.kind:8} {self.service} slot {action.slot}: {text} ({action.reason})"
            )
        out += [f"unplaced {self.service}: {reason}" for reason in self.unplaced]
        return out


def desired_slots(spec: ServiceSpec, view: ClusterView) -> list[str]:
    """Replicated: "1".."N". Global: one slot per host that could run it, named after the host."""
    if spec.state == "absent":
        return []
    if spec.mode != "global":
        return [str(i) for i in range(1, spec.replicas + 1)]
    from orchestr.cluster.scheduler import eligible_hosts

    others = [c for c in view.containers if c.service != spec.name]
    usage = usage_from(others, view.ports_in_use)
    eligible, _ = eligible_hosts(request_for(spec, 1), view.placeable, usage)
    return sorted(eligible, key=slot_key)


def request_for(spec: ServiceSpec, count: int) -> PlacementRequest:
    return PlacementRequest(
        service=spec.name, count=count, resources=spec.resources, ports=spec.ports,
        constraints=spec.constraints, preferences=spec.preferences, affinity=spec.affinity,
        max_per_host=spec.max_per_host, strategy=spec.strategy,
    )  # fmt: skip


def reconcile(
    spec: ServiceSpec, view: ClusterView, record: Mapping[str, SlotRecord]
) -> ServicePlan:
    wanted_hash = spec_hash(spec)
    hosts = {h.name: h for h in view.placeable}
    down = {h.name for h in view.hosts if not h.up} - set(view.suspect)
    mine = [c for c in view.containers if c.service == spec.name]
    slots = desired_slots(spec, view)
    wanted = set(slots)
    current_epoch = _current_epochs(mine, record, view.suspect)
    actions: list[Action] = []
    chosen: dict[str, Container] = {}

    for slot, group in _by_slot(mine).items():
        epoch = current_epoch.get(slot, 0)
        live = []
        for c in group:
            if slot not in wanted:
                actions.append(_removal("stop", c, _not_wanted_reason(spec, c, hosts)))
            elif c.epoch < epoch:
                actions.append(_removal("fence", c, f"stale: epoch {c.epoch} < current {epoch}"))
            elif c.epoch > epoch:
                actions.append(_removal("stop", c, f"left by an interrupted run (epoch "
                                                   f"{c.epoch} was never confirmed)"))  # fmt: skip
            else:
                live.append(c)
        if live:
            keeper = min(live, key=lambda c: _keeper_rank(c, wanted_hash, record.get(slot)))
            chosen[slot] = keeper
            for c in live:
                if c is not keeper:
                    actions.append(_removal("stop", c, f"duplicate of {keeper.name} on "
                                                       f"{keeper.host}"))  # fmt: skip

    usage = {name: u.copy() for name, u in usage_from(list(view.containers),
                                                      view.ports_in_use).items()}  # fmt: skip
    for action in actions:
        _release(usage, action.old)

    moves: list[Action] = []  # replicas that need a host: place, lost, migrate
    updates: list[Action] = []
    keep: list[Container] = []
    for slot in slots:
        c = chosen.get(slot)
        epoch = current_epoch.get(slot, 0) + 1
        if c is None:
            known = record.get(slot)
            if known is not None and known.host in view.suspect:
                continue  # its replica may still run there: wait for the host's verdict
            moves.append(_missing(spec, slot, epoch, known, down))
            continue
        host = hosts.get(c.host)
        leave = _why_leave(spec, c, host)
        if c.name in view.evict and spec.mode != "global":
            moves.append(Action("migrate", spec.name, slot, view.evict[c.name], old=c,
                                epoch=epoch, avoid=c.host))  # fmt: skip
        elif leave:
            moves.append(Action("migrate", spec.name, slot, leave, old=c, epoch=epoch))
        elif c.spec_hash != wanted_hash:
            updates.append(Action("update", spec.name, slot,
                                  f"spec {c.spec_hash[:8] or '?'} -> {wanted_hash[:8]}",
                                  old=c, epoch=epoch))  # fmt: skip
        elif not c.running:
            actions.append(Action("restart", spec.name, slot, _not_running(c), old=c))
            keep.append(c)
            if c.state not in LIVE_STATES:  # a live one is counted already
                _hold(usage, c)  # it will run again: its ports and memory are taken
        else:
            keep.append(c)

    unplaced: list[str] = []
    placed = _place_moves(spec, moves, view.placeable, usage, unplaced)
    for action in placed:  # a migrating replica's old copy goes once the new one serves
        _release(usage, action.old)
    updated, stuck = _place_updates(spec, updates, view.placeable, usage, unplaced)
    keep += stuck
    actions += placed + updated

    slots_after: dict[str, SlotRecord] = {}
    for c in keep:
        slots_after[c.slot] = SlotRecord(c.slot, c.epoch, c.host)
    for action in placed + updated:
        slots_after[action.slot] = SlotRecord(action.slot, action.epoch, action.host or "")
    for slot in slots:  # unplaced slots keep their record: the replica is owed, not forgotten
        if slot not in slots_after and slot in record:
            slots_after[slot] = record[slot]
    order = {kind: i for i, kind in enumerate(BUCKETS)}
    actions.sort(key=lambda a: (order[a.kind], slot_key(a.slot), a.old.name if a.old else ""))
    return ServicePlan(
        service=spec.name,
        spec_hash=wanted_hash,
        actions=tuple(actions),
        keep=tuple(sorted(keep, key=lambda c: slot_key(c.slot))),
        unplaced=tuple(unplaced),
        slots_after=slots_after,
        usage_after=usage,
    )


# -- reading what runs ----------------------------------------------------------------------


def _by_slot(containers: Iterable[Container]) -> dict[str, list[Container]]:
    groups: dict[str, list[Container]] = {}
    for c in sorted(containers, key=lambda c: (slot_key(c.slot), c.epoch, c.host, c.name)):
        groups.setdefault(c.slot, []).append(c)
    return groups


def _current_epochs(mine: Sequence[Container], record: Mapping[str, SlotRecord],
                    suspect: Collection[str] = ()) -> dict[str, int]:  # fmt: skip
    """The store's epoch per slot. A slot with no record (a lost store), or whose recorded
    replica is nowhere to be seen while a newer one lives (an older copy of the store restored,
    or a run killed before it confirmed a move), takes the newest epoch seen: that replica is
    adopted, and brought to the spec by a gated update if it differs, never removed and placed
    anew all at once. An older epoch is never adopted: a stale copy stays stale. A replica
    recorded on a suspect host may still run there: its slot waits for the host's verdict."""
    epochs = {slot: r.epoch for slot, r in record.items()}
    seen = {(c.slot, c.epoch) for c in mine}
    for c in mine:
        recorded = record.get(c.slot)
        gone = recorded is not None and recorded.host not in suspect and \
            (c.slot, recorded.epoch) not in seen  # fmt: skip
        if recorded is None or (gone and c.state in LIVE_STATES):
            epochs[c.slot] = max(epochs.get(c.slot, 0), c.epoch)
    return epochs


def _keeper_rank(c: Container, wanted_hash: str, record: SlotRecord | None) -> tuple:
    """Which of several current copies of a slot stays: running, up to date, where the store
    says it is, then by name for a stable choice."""
    return (not c.running, c.spec_hash != wanted_hash,
            record is not None and record.host != c.host, c.host, c.name)  # fmt: skip


def _removal(kind: str, c: Container, reason: str) -> Action:
    return Action(kind, c.service, c.slot, reason, old=c)


def _not_wanted_reason(spec: ServiceSpec, c: Container, hosts: Mapping[str, HostView]) -> str:
    if spec.state == "absent":
        return "service removed (state: absent)"
    if spec.mode == "global":
        host = hosts.get(c.slot)
        if host is None:
            return f"{c.slot} is not a candidate host"
        if not host.schedulable:
            return f"host {c.slot} drained"
        return f"host {c.slot} no longer fits the service"
    return f"slot {c.slot} is beyond replicas {spec.replicas}"


def _not_running(c: Container) -> str:
    if c.state == "exited":
        return f"exited with code {c.exit_code}"
    return c.state


def _why_leave(spec: ServiceSpec, c: Container, host: HostView | None) -> str:
    """Why a replica must move off its host ("" when it may stay)."""
    if host is None:
        return f"{c.host} is no longer a candidate host"
    if not host.schedulable:
        return f"host {c.host} drained"
    for constraint in spec.constraints:
        if not satisfies(constraint, host.attributes):
            return f"host {c.host} no longer matches {constraint.text}"
    return ""


def _missing(
    spec: ServiceSpec, slot: str, epoch: int, record: SlotRecord | None, down: set[str]
) -> Action:
    if record is not None and not record.host:  # retired by a scale-down, now wanted again
        return Action("place", spec.name, slot, "new replica", epoch=epoch)
    if record is not None and record.host in down:
        return Action("lost", spec.name, slot, f"host {record.host} is down", epoch=epoch)
    if record is not None:
        return Action("place", spec.name, slot, f"container gone from {record.host}", epoch=epoch)
    return Action("place", spec.name, slot, "new replica", epoch=epoch)


# -- choosing hosts -------------------------------------------------------------------------


def _release(usage: dict[str, HostUsage], c: Container | None) -> None:
    if c is None or c.state not in LIVE_STATES:
        return
    host_usage = usage.get(c.host)
    if host_usage is not None:
        host_usage.remove(c.service, c.reserved, tuple(p for _, p in c.ports))


def _adopt(usage: dict[str, HostUsage], new: Mapping[str, HostUsage]) -> None:
    usage.clear()
    usage.update(new)


def _place_moves(
    spec: ServiceSpec, moves: list[Action], hosts: Sequence[HostView],
    usage: dict[str, HostUsage], unplaced: list[str],
) -> list[Action]:  # fmt: skip
    """Hosts for new, lost and migrating replicas, placed together so spread sees them all. A
    global service's slot is its host."""
    done: list[Action] = []
    if spec.mode == "global":
        by_name = {h.name: h for h in hosts}
        for action in moves:
            placement = place(request_for(spec, 1), [by_name[action.slot]], usage)
            if placement.assignments:
                (assignment,) = placement.assignments
                done.append(replace(action, host=assignment.host, ports=assignment.ports))
                _adopt(usage, placement.usage)
            else:
                unplaced.append(f"slot {action.slot}: {placement.message}")
        return done
    together = [a for a in moves if not a.avoid]
    if together:
        placement = place(request_for(spec, len(together)), hosts, usage)
        _adopt(usage, placement.usage)
        for action, assignment in zip(together, placement.assignments, strict=False):
            done.append(replace(action, host=assignment.host, ports=assignment.ports))
        for action in together[len(placement.assignments) :]:
            unplaced.append(f"slot {action.slot} ({action.reason}): {placement.message}")
    for action in (a for a in moves if a.avoid):
        elsewhere = [h for h in hosts if h.name != action.avoid]
        placement = place(request_for(spec, 1), elsewhere, usage)
        if placement.assignments:
            _adopt(usage, placement.usage)
            (assignment,) = placement.assignments
            done.append(replace(action, host=assignment.host, ports=assignment.ports))
        else:
            unplaced.append(f"slot {action.slot} ({action.reason}): {placement.message}")
    return done


def _place_updates(
    spec: ServiceSpec, updates: list[Action], hosts: Sequence[HostView],
    usage: dict[str, HostUsage], unplaced: list[str],
) -> tuple[list[Action], list[Container]]:  # fmt: skip
    """Where each updated replica goes, simulated batch by batch as the rollout will run it, and
    the old replicas that must stay because the new spec fits nowhere.

    stop-first: in place (the old one's ports and resources are freed first). start-first: on the
    same host if it has room beside the old one (a free port from a range), else another host;
    when nothing has room, that replica falls back to stop-first in place."""
    by_name = {h.name: h for h in hosts}
    size = max(1, spec.update.parallelism)
    done: list[Action] = []
    stuck: list[Container] = []
    for start in range(0, len(updates), size):
        started_first: list[Container] = []
        for action in updates[start : start + size]:
            old = action.old
            assert old is not None
            home = [by_name[old.host]] if old.host in by_name else []
            if spec.update.order == "start-first":
                # A global service's slot is its host: it never moves to start first.
                elsewhere = (
                    [] if spec.mode == "global" else [h for h in hosts if h.name != old.host]
                )
                assignment = _place_one(spec, (home, elsewhere), usage)
                if assignment is not None:
                    done.append(replace(action, host=assignment.host, ports=assignment.ports,
                                        start_first=True))  # fmt: skip
                    started_first.append(old)
                    continue
                action = replace(action, reason=action.reason + "; stop-first: no room to "
                                                                "start the new one first")  # fmt: skip
            _release(usage, old)
            assignment = _place_one(spec, (home, [] if spec.mode == "global" else hosts), usage)
            if assignment is not None:
                done.append(replace(action, host=assignment.host, ports=assignment.ports))
                continue
            # Nowhere fits the new spec: the old replica stays and the update is owed.
            if old.state in LIVE_STATES:
                _hold(usage, old)
            stuck.append(old)
            message = place(request_for(spec, 1), hosts, usage).message
            unplaced.append(f"slot {action.slot} ({action.reason}): {message}")
        for old in started_first:  # the batch's old replicas go once the new ones serve
            _release(usage, old)
    return done, stuck


def _place_one(
    spec: ServiceSpec, tiers: Iterable[Sequence[HostView]], usage: dict[str, HostUsage]
) -> Assignment | None:
    """One replica on the first tier of hosts that has room (usage updated when placed)."""
    for candidates in tiers:
        if not candidates:
            continue
        placement = place(request_for(spec, 1), candidates, usage)
        if placement.assignments:
            _adopt(usage, placement.usage)
            return placement.assignments[0]
    return None


def _hold(usage: dict[str, HostUsage], c: Container) -> None:
    usage.setdefault(c.host, HostUsage()).add(c.service, c.reserved, tuple(p for _, p in c.ports))
