"""The cluster handle, built once per command: connections, the store, the inventory and the
publisher. Its world is every host that holds or held a managed replica (known from the store)
plus the hosts this command names as candidates: that is what is observed, fenced, counted for
ports and reservations, and published. Candidates stay per service (see cluster/deploy.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestr.cluster.model import Container, HostView, Resources
from orchestr.cluster.observe import HostObservation, observe_hosts
from orchestr.cluster.reconcile import ClusterView, SlotRecord
from orchestr.cluster.recover import INSPECT_MANAGED, Recovery, recover
from orchestr.errors import OrchestrError
from orchestr.store.interface import StateStore
from orchestr.transport.command import Become
from orchestr.transport.pool import EscalatedPool, Pool
from orchestr.transport.settings import inventory_settings

Log = Callable[[str], None]
HOSTS = "@hosts"  # the store's health counters of hosts live under this pseudo-service


@dataclass(frozen=True)
class Candidate:
    """A host a service may run on, with what constraints and preferences read."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, host: Any) -> Candidate:
        """An inventory host as a candidate: its variables, inventory_hostname, group_names."""
        return cls(host.name, {**host.vars, "inventory_hostname": host.name,
                               "group_names": sorted(host.group_names)})  # fmt: skip


class StoreRebuildError(OrchestrError):
    """A lost store could not be rebuilt safely: the command must not go on."""


class Cluster:
    """Everything a change to services needs, assembled once and handed to the playbook engine
    and the CLI verbs. The store may be opened lazily (`open_store`): a playbook takes the
    store's lock only once it manages services."""

    def __init__(self, pool: Pool, inventory: Any, *, store: StateStore | None = None,
                 open_store: Callable[[], StateStore] | None = None, publisher: Any = None,
                 log: Log | None = None, command: str = "orchestr"):  # fmt: skip
        self.raw_pool = pool
        self.pool: Pool | EscalatedPool = pool
        self.inventory = inventory
        self._store = store
        self._open_store = open_store
        self.publisher = publisher  # discovery (HAProxy, DNS) kept in step with changes
        self.log = log or (lambda line: None)
        self.command = command
        self.observe_timeout = 30.0  # a sweep sets its own: a dead host must not hold it up
        self.observations: dict[str, HostObservation | Exception] = {}
        self.named: set[str] = set()  # candidates this command named (beyond the store's hosts)
        self.drained_extra: set[str] = set()  # drained for this run's plans only (drain checks)
        self.unhealthy: frozenset[str] = frozenset()  # replicas a sweep judged failing
        # Deploys this command began; any other deploy still "running" was interrupted (the
        # store's lock is held, so no other command is carrying one out).
        self.deploys_begun: set[int] = set()
        self._left_out: set[str] = set()
        self._store_checked = False  # whether a lost store was looked for (once per command)

    @property
    def store(self) -> StateStore:
        if self._store is None:
            if self._open_store is None:
                raise RuntimeError("this cluster handle has no store")
            self._store = self._open_store()
        return self._store

    def using(self, *, become: bool | Become | None) -> Cluster:
        """The same cluster as a play sees it: its commands escalated as the play's are."""
        if become is None:
            return self
        other = copy.copy(self)
        other.pool = EscalatedPool(self.raw_pool, become)
        return other

    # -- the world --------------------------------------------------------------------------

    def name(self, hosts: Iterable[str]) -> list[str]:
        """Add hosts to this command's world (a change's candidates); the ones the inventory
        does not know are left out with a warning. Returns the known ones, in order."""
        known = []
        for host in hosts:
            if host in self.inventory.hosts:
                self.named.add(host)
                known.append(host)
            else:
                self._leave_out(host)
        return known

    def world(self) -> list[str]:
        """Every host that holds or held a managed replica (the store's), plus the named."""
        store = self.store
        hosts = {h for s in store.services() for h in s.hosts}
        hosts |= {r.host for r in store.all_slots() if r.host}
        hosts |= self.named
        for host in sorted(hosts - set(self.inventory.hosts)):
            self._leave_out(host)
        return sorted(h for h in hosts if h in self.inventory.hosts)

    def _leave_out(self, host: str) -> None:
        if host not in self._left_out:
            self._left_out.add(host)
            self.log(f"{host} is not in the inventory: left out (cannot be reached)")

    def candidate(self, host: str) -> Candidate:
        return Candidate.of(self.inventory.hosts[host])

    async def observe(self, images: Sequence[str] = (), timeout: float | None = None, *,
                      known: Mapping[str, Any] | None = None,
                      extra: Mapping[str, str] | None = None) -> ClusterView:  # fmt: skip
        timeout = self.observe_timeout if timeout is None else timeout
        await self.ensure_store(timeout)
        hosts = self.world()
        for host in hosts:
            self.raw_pool.know(inventory_settings(host, self.inventory))
        self.observations = await observe_hosts(self.pool, hosts, images, timeout=timeout,
                                                known=known, extra=extra)  # fmt: skip
        return self.view()

    async def ensure_store(self, timeout: float | None = None) -> None:
        """Before the store is read for a decision: a lost store is rebuilt (once a command)."""
        if not self._store_checked:
            self._store_checked = True
            await self.rebuild_lost_store(self.observe_timeout if timeout is None else timeout)

    async def rebuild_lost_store(self, timeout: float) -> Recovery | None:
        """A store never written to, while hosts run managed containers, was lost: every
        service, its candidates and its slots are put back from the containers' labels before
        anything is planned or published. If an inventory host does not answer, what it runs
        is unknown, and the command is refused rather than taking the cluster for smaller
        than it is."""
        store = self.store
        if store.services() or store.audit_log(limit=1):
            return None
        hosts = sorted(self.inventory.hosts)
        for host in hosts:
            self.raw_pool.know(inventory_settings(host, self.inventory))

        async def inspect(connection) -> list:  # noqa: ANN001
            result = await connection.run(INSPECT_MANAGED, timeout=timeout)
            if result.rc != 0:
                raise RuntimeError(result.stderr.strip() or f"exit {result.rc}")
            return json.loads(result.stdout)

        found: dict[str, list] = {}
        silent = []
        for outcome in await self.pool.each(hosts, inspect):
            if outcome.error is None:
                found[outcome.host] = outcome.value
            else:
                silent.append(f"{outcome.host} ({outcome.error})")
        if not any(found.values()):
            if silent:  # an empty store and no answer: nothing known was lost, say so
                self.log("the store is empty and these hosts did not answer: "
                         + ", ".join(silent))  # fmt: skip
            return None
        if silent:
            raise StoreRebuildError(
                "the store is empty but hosts run managed containers; it cannot be rebuilt "
                f"from their labels while {', '.join(silent)} does not answer (bring it back, "
                "or leave it out of the inventory)")  # fmt: skip
        recovery = recover(found)
        for service in recovery.services:
            store.set_service(service.name, service.spec, service.spec_hash, None,
                              list(service.hosts))  # fmt: skip
            for slot, (epoch, host) in service.slots.items():
                store.set_slot(service.name, slot, epoch, host)
            store.audit("rebuild", service.name, f"rebuilt from the labels of {len(service.slots)}"
                        " replica(s) after the store was found empty", command=self.command)  # fmt: skip
        text = (f"the store was empty: rebuilt {len(recovery.services)} service(s) from the "
                f"labels of {recovery.containers} replica(s)")  # fmt: skip
        store.record_event("store rebuilt", text)
        self.log(text)
        for problem in recovery.problems:
            store.record_event("store rebuilt", problem, service=problem.split(":")[0])
            self.log(problem)
        return recovery

    def declared_down(self) -> set[str]:
        """Hosts a sweep has declared down: their replicas are lost and may be replaced."""
        return {h for h, r in self.store.health(HOSTS).items() if r.status == "down"}

    def view(self) -> ClusterView:
        """The world as last observed. An unreachable host is down only once a sweep has
        declared it so; until then it is suspect: its replicas are left alone, never doubled."""
        drained = set(self.store.unschedulable()) | self.drained_extra
        hosts = []
        containers = []
        ports_in_use: dict[str, tuple[int, ...]] = {}
        for name, seen in sorted(self.observations.items()):
            attributes = dict(self.candidate(name).attributes)
            schedulable = name not in drained
            if isinstance(seen, HostObservation):
                facts = seen.facts
                attributes["facts"] = facts.as_dict()
                hosts.append(HostView(
                    name=name, attributes=attributes,
                    capacity=Resources(float(facts.cpus), facts.memory_mb),
                    up=seen.docker_ok, schedulable=schedulable,
                ))  # fmt: skip
                containers.extend(seen.containers)
                # Ports held by managed containers are counted from their labels; the facts'
                # list holds those too, which is harmless (a set).
                ports_in_use[name] = facts.ports_in_use
            else:
                hosts.append(HostView(name=name, attributes=attributes, up=False,
                                      schedulable=schedulable))  # fmt: skip
        unreachable = {h.name for h in hosts if not h.up}
        suspect = frozenset(unreachable - self.declared_down())
        return ClusterView(tuple(hosts), tuple(containers), ports_in_use, suspect)

    def unreachable(self) -> list[str]:
        return sorted(h for h, seen in self.observations.items() if isinstance(seen, Exception))

    def addresses(self) -> dict[str, str]:
        """Inventory name -> address clients use (ansible_host when set, else the name), for
        every host of the world."""
        return {name: str(self.inventory.hosts[name].vars.get("ansible_host") or name)
                for name in self.observations}  # fmt: skip

    # -- the store's record -----------------------------------------------------------------

    def current_epochs(self, service: str) -> dict[str, int]:
        """slot -> the epoch the store holds current; a slot retired by a scale-down (no host)
        has none, so no container of it passes for current."""
        return {s: r.epoch for s, r in self.store.slots(service).items() if r.host}

    def current(self, containers: Iterable[Container], services: Iterable[str]) -> list[Container]:
        """The containers of `services` that are their slot's current replica: not stale, not
        an unconfirmed leftover. Each service's slots are read once."""
        epochs = {name: self.current_epochs(name) for name in services}
        return [c for c in containers
                if c.service in epochs and epochs[c.service].get(c.slot) == c.epoch]  # fmt: skip

    def record_of(self, service: str) -> dict[str, SlotRecord]:
        return {s: SlotRecord(s, r.epoch, r.host) for s, r in self.store.slots(service).items()}

    # -- discovery --------------------------------------------------------------------------

    def snapshot(self, view: ClusterView | None = None) -> Any:
        """Discovery's snapshot of the whole cluster: every stored service, every current
        replica wherever it runs, those a sweep judged unhealthy marked."""
        from orchestr.cluster.spec import spec_from_dict
        from orchestr.discovery.snapshot import build_snapshot

        view = view or self.view()
        services = self.store.services()
        specs = [spec_from_dict(s.spec) for s in services]
        names = {s.name for s in services}
        containers = [c for c in view.containers if c.service in names]
        epochs = {name: self.current_epochs(name) for name in names}
        return build_snapshot(specs, containers, epochs, self.addresses(), self.unhealthy)

    async def publish(self, *, fresh: bool = True) -> Any:
        """Bring HAProxy and DNS in line with the whole cluster: observed afresh (one round
        trip) after a change, else as last seen. Returns the publisher's outcome (None when
        there is nowhere to publish); its changes are recorded as events, and shown by the
        callers."""
        if self.publisher is None:
            return None
        view = await self.observe() if fresh else self.view()
        outcome = await self.publisher.publish(self, self.snapshot(view))
        for change in outcome.changes:
            self.store.record_event("config reloaded" if change.kind != "endpoint"
                                    else "endpoint state", change.text(),
                                    host=change.target if change.kind != "zone" else None)  # fmt: skip
        return outcome
