"""Where new replicas go: filter the hosts, spread over placement preferences, then let a strategy
choose. Pure and deterministic: the same request, hosts and usage give the same placement, and
the inputs are never mutated.

Filters, in order; a host ruled out is counted under the first one that rules it out:
  down, drained, each constraint, hard affinity / anti-affinity, max_per_host, resources, ports.
The first four depend only on the host and on other services, so they are checked once per
request; the rest change as replicas land and are checked again whenever a host is chosen.

Decisions:
- Resources: a resource the request does not reserve is not checked (a 0-cpu replica fits an
  overcommitted host). A capacity of 0 means "unknown": it fits a request that reserves none of
  that resource and rules the host out for one that does ("capacity unknown").
- Ports: fixed published ports are claimed first, then each range takes its lowest free port;
  two specs of one replica never share a host port.
- Placement preferences are counted, as in Swarm, over the hosts that pass the static filters:
  replicas already on a down or drained host do not make its group look fuller.
- Hard affinity to the service itself means "only hosts already running it"; hard anti-affinity
  to itself means at most one replica per host (it is rechecked as replicas land).
- Hosts are considered in name order wherever order matters, so the order of `hosts` does not
  change the result.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestr.cluster.constraints import as_text, compile_constraint, lookup
from orchestr.cluster.model import HostUsage, HostView, Resources
from orchestr.cluster.spec_types import Affinity, Constraint, PortSpec


@dataclass(frozen=True)
class PlacementRequest:
    service: str
    count: int  # new replicas to place
    resources: Resources = Resources()
    ports: tuple[PortSpec, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    preferences: tuple[str, ...] = ()  # attributes to spread over, outermost first (Swarm spread=)
    affinity: tuple[Affinity, ...] = ()
    max_per_host: int | None = None
    strategy: str = "spread"  # a key of STRATEGIES
    seed: int = 0  # for the random strategy


@dataclass(frozen=True)
class Assignment:
    host: str
    ports: tuple[tuple[int, int], ...] = ()  # (container port, host port) per published PortSpec


@dataclass(frozen=True)
class Placement:
    """The replicas placed, in the order they were placed, and what could not be. `service` and
    `count` repeat the request's, for `message`."""

    assignments: tuple[Assignment, ...]
    unplaced: int
    reasons: tuple[str, ...]  # why hosts were ruled out, when unplaced > 0: "3 hosts down"
    # After the assignments: every host of the input usage and every host given a replica, as
    # fresh copies the caller may change.
    usage: dict[str, HostUsage]
    service: str = ""
    count: int = 0

    @property
    def message(self) -> str:
        if self.unplaced == 0:
            return f"{len(self.assignments)} of {self.count} replicas of {self.service} placed"
        why = ", ".join(self.reasons) or "no reason recorded"
        return f"{self.unplaced} of {self.count} replicas of {self.service} not placed: {why}"


def place(
    request: PlacementRequest, hosts: Sequence[HostView], usage: Mapping[str, HostUsage]
) -> Placement:
    """Place `request.count` new replicas one after another, each seeing the ones before it."""
    if request.count < 0:
        raise ValueError(f"cannot place {request.count} replicas of {request.service}")
    strategy = _strategy(request.strategy)
    work = _Work(request, hosts, usage)
    candidates = [view for view in work.views if work.static_reason(view) is None]
    chooser = _build_tree(work, candidates, request.preferences, strategy)
    assignments: list[Assignment] = []
    while len(assignments) < request.count:
        assignment = chooser.take()
        if assignment is None:
            break
        assignments.append(assignment)
    unplaced = request.count - len(assignments)
    reasons: tuple[str, ...] = ()
    if unplaced:
        reasons = work.reasons(work.views) if work.views else ("no hosts",)
    return Placement(
        tuple(assignments), unplaced, reasons, work.result(), request.service, request.count
    )


def eligible_hosts(
    request: PlacementRequest, hosts: Sequence[HostView], usage: Mapping[str, HostUsage]
) -> tuple[list[str], tuple[str, ...]]:
    """Hosts that could take one replica now, in the given order (for mode: global), and why the
    others could not, in the form of Placement.reasons."""
    work = _Work(request, hosts, usage)
    eligible: list[str] = []
    ruled_out: list[HostView] = []
    for view in hosts:
        if work.static_reason(view) is None and work.fit(view, work.current(view.name))[0] is None:
            eligible.append(view.name)
        else:
            ruled_out.append(view)
    return eligible, work.reasons(ruled_out)


# -- filters and reasons ---------------------------------------------------------------------

# A reason: (filter rank, position within the filter, what, free amount for resources). Ranks
# follow the filter order; positions keep constraints and affinities in the order written.
_DOWN, _DRAINED, _CONSTRAINT, _AFFINITY, _MAX_PER_HOST, _RESOURCES, _PORTS = range(7)
_Reason = tuple[int, int, str, float | None]
_EMPTY = HostUsage()  # read-only stand-in for a host with no recorded usage


class _Work:
    """One request's view of the hosts and the usage it builds up (copy-on-write per host)."""

    def __init__(
        self, request: PlacementRequest, hosts: Sequence[HostView], usage: Mapping[str, HostUsage]
    ) -> None:
        self.request = request
        self.service = request.service
        self.views = sorted(hosts, key=lambda view: view.name)
        for before, after in zip(self.views, self.views[1:], strict=False):
            if before.name == after.name:
                raise ValueError(f"host {before.name} given twice")
        self.usage = usage
        self.constraints = [(c, compile_constraint(c)) for c in request.constraints]
        self.changed: dict[str, HostUsage] = {}
        hard = [a for a in request.affinity if a.hard]
        # Only affinity to the service itself changes while this request is placed.
        self.static_affinity = [a for a in hard if a.service != request.service]
        self.self_anti = any(a.anti for a in hard if a.service == request.service)
        self.self_with = any(not a.anti for a in hard if a.service == request.service)
        self.soft = [a for a in request.affinity if not a.hard]
        self.fixed = [(i, p.published) for i, p in enumerate(request.ports) if p.fixed]
        self.ranges = [
            (i, p.published_range)
            for i, p in enumerate(request.ports)
            if not p.fixed and p.published_range is not None
        ]
        self.published = len(self.fixed) + len(self.ranges)
        self.port_floors: dict[tuple[str, int, int], int] = {}
        # One generator per request, shared by every group of hosts; crc32, unlike hash(), is
        # the same in every process.
        self.rng = random.Random(zlib.crc32(f"{request.seed}:{request.service}".encode()))

    def current(self, name: str) -> HostUsage:
        usage = self.changed.get(name)
        if usage is None:
            usage = self.usage.get(name, _EMPTY)
        return usage

    def static_reason(self, view: HostView) -> _Reason | None:
        """Down, drained, constraints, affinity to other services: fixed for this request."""
        if not view.up:
            return (_DOWN, 0, "down", None)
        if not view.schedulable:
            return (_DRAINED, 0, "drained", None)
        for position, (constraint, check) in enumerate(self.constraints):
            if not check(view.attributes):
                return (_CONSTRAINT, position, _constraint_text(constraint), None)
        if self.static_affinity or self.self_with:
            per_service = self.current(view.name).per_service
            for position, affinity in enumerate(self.request.affinity):
                if not affinity.hard or (affinity.anti and affinity.service == self.service):
                    continue  # soft, or anti-affinity to itself: that one is checked in `fit`
                if (per_service.get(affinity.service, 0) > 0) == affinity.anti:
                    return (_AFFINITY, position, _affinity_text(affinity), None)
        return None

    def fit(
        self, view: HostView, usage: HostUsage
    ) -> tuple[_Reason | None, tuple[tuple[int, int], ...]]:
        """The filters that change as replicas land; on success, the host ports to publish."""
        request = self.request
        mine = usage.per_service.get(self.service, 0)
        if self.self_anti and mine > 0:
            text = _affinity_text(Affinity(self.service, anti=True))
            return (_AFFINITY, len(self.request.affinity), text, None), ()
        if request.max_per_host is not None and mine >= request.max_per_host:
            return (_MAX_PER_HOST, 0, f"max_per_host {request.max_per_host}", None), ()
        need = request.resources
        if need.cpus > 0:
            capacity = view.capacity.cpus
            if capacity <= 0:
                return (_RESOURCES, 0, "cpus", None), ()
            if usage.reserved.cpus + need.cpus > capacity + 1e-9:
                return (_RESOURCES, 0, "cpus", capacity - usage.reserved.cpus), ()
        if need.memory_mb > 0:
            capacity_mb = view.capacity.memory_mb
            if capacity_mb <= 0:
                return (_RESOURCES, 1, "memory", None), ()
            if usage.reserved.memory_mb + need.memory_mb > capacity_mb:
                return (_RESOURCES, 1, "memory", capacity_mb - usage.reserved.memory_mb), ()
        if not self.published:
            return None, ()
        return self._ports(view.name, usage.ports)

    def _ports(
        self, name: str, taken: set[int]
    ) -> tuple[_Reason | None, tuple[tuple[int, int], ...]]:
        chosen: dict[int, int] = {}
        claimed: set[int] = set()
        for index, port in self.fixed:
            if port in taken or port in claimed:
                return (_PORTS, index, f"port {port} in use", None), ()
            claimed.add(port)
            chosen[index] = port
        for index, (low, high) in self.ranges:
            # Ports below the floor were taken when last looked at, and usage only grows: a host
            # taking hundreds of replicas does not rescan them each time.
            floor_key = (name, low, high)
            port = self.port_floors.get(floor_key, low)
            while port <= high and port in taken:
                port += 1
            self.port_floors[floor_key] = port
            while port <= high and (port in taken or port in claimed):
                port += 1
            if port > high:
                return (_PORTS, index, f"no free port in {low}-{high}", None), ()
            claimed.add(port)
            chosen[index] = port
        ports = self.request.ports
        return None, tuple((ports[i].target, chosen[i]) for i in sorted(chosen))

    def apply(self, name: str, host_ports: tuple[tuple[int, int], ...]) -> HostUsage:
        """Record one replica on the host; returns the host's updated usage."""
        usage = self.changed.get(name)
        if usage is None:
            usage = self.current(name).copy()
            self.changed[name] = usage
        usage.add(self.service, self.request.resources, tuple(port for _, port in host_ports))
        return usage

    def soft_score(self, usage: HostUsage) -> int:
        """How many soft affinity rules the host breaks: lower is preferred."""
        if not self.soft:
            return 0
        broken = 0
        for affinity in self.soft:
            if (usage.per_service.get(affinity.service, 0) > 0) == affinity.anti:
                broken += 1
        return broken

    def reasons(self, views: Iterable[HostView]) -> tuple[str, ...]:
        """Why each of these hosts cannot take a replica now, counted per cause, the most common
        first; resource causes report the most any of their hosts has free."""
        counts: dict[tuple[int, int, str, bool], int] = {}
        most_free: dict[tuple[int, int, str, bool], float] = {}
        for view in views:
            reason = self.static_reason(view) or self.fit(view, self.current(view.name))[0]
            if reason is None:
                continue
            rank, position, what, free = reason
            key = (rank, position, what, free is None)
            counts[key] = counts.get(key, 0) + 1
            if free is not None:
                most_free[key] = max(free, most_free.get(key, free))
        ordered = sorted(counts, key=lambda key: (-counts[key], key))
        return tuple(self._render(key, counts[key], most_free.get(key)) for key in ordered)

    def _render(self, key: tuple[int, int, str, bool], count: int, free: float | None) -> str:
        rank, _, what, _ = key
        hosts = f"{count} host{'s' if count != 1 else ''}"
        if rank in (_DOWN, _DRAINED):
            return f"{hosts} {what}"
        if rank == _RESOURCES:
            need = self.request.resources
            needs = f"{need.memory_mb} MB" if what == "memory" else _cpus(need.cpus)
            if free is None:
                left = "capacity unknown"
            else:
                amount = f"{max(0, int(free))} MB" if what == "memory" else _cpus(max(0.0, free))
                left = f"{'at most ' if count > 1 else ''}{amount} free"
            return f"{hosts} ruled out by {what} (needs {needs}, {left})"
        return f"{hosts} ruled out by {what}"

    def result(self) -> dict[str, HostUsage]:
        merged = {name: usage.copy() for name, usage in self.usage.items()}
        merged.update(self.changed)
        return merged


def _constraint_text(constraint: Constraint) -> str:
    if constraint.text:
        return constraint.text
    value = constraint.value
    if isinstance(value, tuple | list):
        value = "[" + ", ".join(as_text(item) for item in value) + "]"
    op = "not in" if constraint.op == "not_in" else constraint.op
    return " ".join(part for part in (constraint.attribute, op, as_text(value)) if part)


def _affinity_text(affinity: Affinity) -> str:
    return f"{'anti-affinity' if affinity.anti else 'affinity'} with {affinity.service}"


def _cpus(amount: float) -> str:
    return f"{amount:g} cpu{'' if amount == 1 else 's'}"


# -- strategies ------------------------------------------------------------------------------


class _Chooser(Protocol):
    def take(self) -> Assignment | None:
        """Place one replica on a host of this group, or None once none of them can take one
        (and then none ever will for this request: usage only grows)."""


Strategy = Callable[["_Work", list[HostView]], _Chooser]


def spread_score(work: _Work, view: HostView, usage: HostUsage) -> tuple[Any, ...]:
    """Lowest first: soft affinity, fewest replicas of this service, fewest containers, name."""
    return (
        work.soft_score(usage),
        usage.per_service.get(work.service, 0),
        usage.containers,
        view.name,
    )


def binpack_score(work: _Work, view: HostView, usage: HostUsage) -> tuple[Any, ...]:
    """Lowest first: soft affinity, hosts already carrying containers before empty ones, the
    highest reserved fraction of the known capacities, most containers, name."""
    fractions = []
    if view.capacity.cpus > 0:
        fractions.append(usage.reserved.cpus / view.capacity.cpus)
    if view.capacity.memory_mb > 0:
        fractions.append(usage.reserved.memory_mb / view.capacity.memory_mb)
    fraction = sum(fractions) / len(fractions) if fractions else 0.0
    return (
        work.soft_score(usage),
        usage.containers == 0,
        -fraction,
        -usage.containers,
        view.name,
    )


class _Ranked:
    """A strategy that ranks hosts by a score; a heap holds one entry per host, and only the host
    that just took a replica changes score, so it alone is pushed back."""

    def __init__(
        self,
        score: Callable[[_Work, HostView, HostUsage], tuple[Any, ...]],
        work: _Work,
        views: list[HostView],
    ) -> None:
        self.score = score
        self.work = work
        self.heap = [(score(work, view, work.current(view.name)), view) for view in views]
        heapq.heapify(self.heap)

    def take(self) -> Assignment | None:
        work = self.work
        while self.heap:
            _, view = heapq.heappop(self.heap)
            reason, ports = work.fit(view, work.current(view.name))
            if reason is not None:
                continue  # full for good: usage only grows
            usage = work.apply(view.name, ports)
            heapq.heappush(self.heap, (self.score(work, view, usage), view))
            return Assignment(view.name, ports)
        return None


class _Bag:
    """Hosts to draw from uniformly: O(1) add, remove and pick."""

    def __init__(self) -> None:
        self.items: list[HostView] = []
        self.index: dict[str, int] = {}

    def add(self, view: HostView) -> None:
        self.index[view.name] = len(self.items)
        self.items.append(view)

    def remove(self, view: HostView) -> None:
        at = self.index.pop(view.name)
        last = self.items.pop()
        if last.name != view.name:
            self.items[at] = last
            self.index[last.name] = at


class _Random:
    """Uniform among the hosts that pass the filters (within the best soft-affinity tier), from a
    generator seeded by (seed, service) so the draw is repeatable."""

    def __init__(self, work: _Work, views: list[HostView]) -> None:
        self.work = work
        self.rng = work.rng
        self.tiers: dict[int, _Bag] = {}
        self.tier_of: dict[str, int] = {}
        for view in views:
            self._put(view, work.soft_score(work.current(view.name)))

    def _put(self, view: HostView, tier: int) -> None:
        self.tiers.setdefault(tier, _Bag()).add(view)
        self.tier_of[view.name] = tier

    def take(self) -> Assignment | None:
        work = self.work
        while True:
            tiers = [tier for tier, bag in self.tiers.items() if bag.items]
            if not tiers:
                return None
            bag = self.tiers[min(tiers)]
            view = bag.items[self.rng.randrange(len(bag.items))]
            reason, ports = work.fit(view, work.current(view.name))
            if reason is not None:
                bag.remove(view)
                continue
            usage = work.apply(view.name, ports)
            tier = work.soft_score(usage)
            if tier != self.tier_of[view.name]:
                bag.remove(view)
                self._put(view, tier)
            return Assignment(view.name, ports)


def _ranked(score: Callable[[_Work, HostView, HostUsage], tuple[Any, ...]]) -> Strategy:
    return lambda work, views: _Ranked(score, work, views)


STRATEGIES: dict[str, Strategy] = {
    "spread": _ranked(spread_score),
    "binpack": _ranked(binpack_score),
    "random": _Random,
}


def _strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown placement strategy {name!r}; use one of {known}") from None


# -- placement preferences -------------------------------------------------------------------


class _Spread:
    """One level of placement preferences: the hosts grouped by an attribute's value; each replica
    goes to the group with the fewest replicas of the service that can still take one."""

    def __init__(self, groups: list[tuple[int, tuple[int, str], _Chooser]]) -> None:
        # (replicas, value order, position, group): position keeps equal keys from comparing
        # groups.
        self.heap = [(count, order, at, group) for at, (count, order, group) in enumerate(groups)]
        heapq.heapify(self.heap)

    def take(self) -> Assignment | None:
        while self.heap:
            count, order, at, group = self.heap[0]
            assignment = group.take()
            if assignment is None:
                heapq.heappop(self.heap)  # that group is full for good
                continue
            heapq.heapreplace(self.heap, (count + 1, order, at, group))
            return assignment
        return None


def _build_tree(
    work: _Work, views: list[HostView], preferences: tuple[str, ...], strategy: Strategy
) -> _Chooser:
    """The strategy over `views`, under one _Spread level per placement preference."""
    if not preferences:
        return strategy(work, views)
    service = work.service
    replicas = {view.name: work.current(view.name).per_service.get(service, 0) for view in views}
    return _level(work, views, preferences, strategy, replicas)


def _level(
    work: _Work,
    views: list[HostView],
    preferences: tuple[str, ...],
    strategy: Strategy,
    replicas: dict[str, int],
) -> _Chooser:
    if not preferences:
        return strategy(work, views)
    attribute, deeper = preferences[0], preferences[1:]
    grouped: dict[tuple[int, str], list[HostView]] = {}
    for view in views:
        found, value = lookup(view.attributes, attribute)
        # Hosts without the attribute form their own group, ordered after every value.
        order = (0, _group_text(value)) if found else (1, "")
        grouped.setdefault(order, []).append(view)
    groups = []
    for order in sorted(grouped):
        members = grouped[order]
        count = sum(replicas[view.name] for view in members)
        groups.append((count, order, _level(work, members, deeper, strategy, replicas)))
    return _Spread(groups)


def _group_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(sorted(as_text(item) for item in value))
    return as_text(value)
