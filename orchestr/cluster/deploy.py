"""One path for every change to a service (apply, scale, drain, rollback): observe the candidate
hosts -> reconcile (pure) -> refuse an incomplete plan before acting -> roll out -> record in the
store. A failed update rolls back to the last good spec by the same path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestr.cluster.model import Container, HostView, Resources
from orchestr.cluster.observe import HostObservation, observe_hosts
from orchestr.cluster.reconcile import ClusterView, ServicePlan, SlotRecord, reconcile
from orchestr.cluster.rollout import Rollout
from orchestr.cluster.spec import masked_env, spec_from_dict, spec_hash, spec_to_dict
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.store.store import Store
from orchestr.transport.pool import Pool

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


@dataclass
class DeployReport:
    service: str
    plan: ServicePlan | None = None
    changed: bool = False
    failed: bool = False
    message: str = ""
    lines: list[str] = field(default_factory=list)  # what was done (or would be, in check mode)
    unreachable: list[str] = field(default_factory=list)
    deploy_number: int | None = None
    rolled_back_to: int | None = None

    def as_data(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "service": self.service,
            "plan": plan.counts() if plan else {},
            "actions": self.lines,
            "unplaced": list(plan.unplaced) if plan else [],
            "unreachable": self.unreachable,
            "deploy": self.deploy_number,
            "rolled_back_to": self.rolled_back_to,
        }


class Cluster:
    """The services' world for one run: connections, the store and the candidate hosts."""

    def __init__(self, pool: Pool, store: Store, candidates: Sequence[Candidate], *,
                 log: Log | None = None, command: str = "orchestr"):  # fmt: skip
        self.pool = pool
        self.store = store
        self.candidates = list(candidates)
        self.log = log or (lambda line: None)
        self.command = command
        self.observations: dict[str, HostObservation | Exception] = {}
        self.drained_extra: set[str] = set()  # drained for this run's plans only (drain checks)
        self.publisher: Any = None  # discovery (HAProxy, DNS) kept in step with changes

    def declared_down(self) -> set[str]:
        """Hosts a sweep has declared down: their replicas are lost and may be replaced."""
        return {h for h, r in self.store.health(HOSTS).items() if r.status == "down"}

    async def observe(self, images: Sequence[str] = (), timeout: float = 30.0, *,
                      known: Mapping[str, Any] | None = None,
                      extra: Mapping[str, str] | None = None) -> ClusterView:  # fmt: skip
        names = [c.name for c in self.candidates]
        self.observations = await observe_hosts(self.pool, names, images, timeout=timeout,
                                                known=known, extra=extra)  # fmt: skip
        return self.view()

    def view(self) -> ClusterView:
        """The cluster as last observed. An unreachable host is down only once a sweep has
        declared it so; until then it is suspect: its replicas are left alone, never doubled."""
        drained = set(self.store.unschedulable()) | self.drained_extra
        hosts = []
        containers = []
        ports_in_use: dict[str, tuple[int, ...]] = {}
        for candidate in self.candidates:
            seen = self.observations.get(candidate.name)
            attributes = dict(candidate.attributes)
            if isinstance(seen, HostObservation):
                facts = seen.facts
                attributes["facts"] = facts.as_dict()
                hosts.append(HostView(
                    name=candidate.name, attributes=attributes,
                    capacity=Resources(float(facts.cpus), facts.memory_mb),
                    up=seen.docker_ok, schedulable=candidate.name not in drained,
                ))  # fmt: skip
                containers.extend(seen.containers)
                # Ports held by managed containers are counted from their labels; the facts'
                # list holds those too, which is harmless (a set).
                ports_in_use[candidate.name] = facts.ports_in_use
            else:
                hosts.append(HostView(name=candidate.name, attributes=attributes, up=False,
                                      schedulable=candidate.name not in drained))  # fmt: skip
        unreachable = {h.name for h in hosts if not h.up}
        suspect = frozenset(unreachable - self.declared_down())
        return ClusterView(tuple(hosts), tuple(containers), ports_in_use, suspect)

    async def publish(self, *, fresh: bool = True) -> None:
        """Bring HAProxy and DNS in line with what runs now: observed afresh (one round trip)
        after a change, else as the plan saw it."""
        from orchestr.health.sweep import SweepReport

        report = SweepReport(actions=["changed"] if fresh else [])
        await self.publisher(self, report, frozenset())
        for line in report.actions[1 if fresh else 0 :]:
            self.log(line)
        if report.problems:
            raise RuntimeError("; ".join(report.problems))

    def unreachable(self) -> list[str]:
        return sorted(h for h, seen in self.observations.items() if isinstance(seen, Exception))

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

    async def plan(self, spec: ServiceSpec) -> tuple[ServicePlan, ClusterView]:
        view = await self.observe([spec.image] if spec.state == "present" else [])
        return reconcile(spec, view, self.record_of(spec.name)), view

    async def deploy(self, spec: ServiceSpec, *, check: bool = False,
                     rollback_allowed: bool = True, note: str = "") -> DeployReport:  # fmt: skip
        report = DeployReport(spec.name)
        plan, view = await self.plan(spec)
        report.plan = plan
        report.unreachable = self.unreachable()
        for host in report.unreachable:
            self.log(f"{host} unreachable: {self.observations[host]}")
        if plan.unplaced:
            report.failed = True
            report.message = f"{spec.name}: cannot place every replica, nothing changed: " + \
                "; ".join(plan.unplaced)  # fmt: skip
            report.lines = plan.lines()
            return report
        missing = self._missing_images(spec, plan)
        if missing and not check:
            report.failed = True
            report.message = (f"{spec.name}: image {spec.image} is not on {', '.join(missing)}; "
                              "ship it first (docker_image with source: local, or "
                              "orchestr image push)")  # fmt: skip
            return report
        stored = self.store.get_service(spec.name)
        new_spec = stored is None or stored.spec_hash != spec_hash(spec) or \
            spec_from_dict(stored.spec) != replace(spec, location=stored.spec.get("location", ""))  # fmt: skip
        report.changed = plan.changed or (new_spec and spec.state == "present")
        if check:
            report.lines = plan.lines()
            report.message = plan.summary()
            return report
        if spec.state == "absent":
            return await self._remove(spec, plan, report)
        deploy = None
        if new_spec:
            deploy = self.store.begin_deploy(spec.name, spec_to_dict(spec), plan.spec_hash,
                                             user=None, command=self.command + note)  # fmt: skip
            report.deploy_number = deploy.number
        # Recorded before the rollout: discovery, published during it, renders from the store.
        self.store.set_service(spec.name, spec_to_dict(spec), plan.spec_hash,
                               deploy.id if deploy else (stored.deploy_id if stored else None),
                               [c.name for c in self.candidates])  # fmt: skip
        rollout = Rollout(self.pool, spec, plan, self.log,
                          on_confirm=lambda slot, epoch, host: self.store.set_slot(
                              spec.name, slot, epoch, host),
                          before_removal=self.publish if self.publisher else None)  # fmt: skip
        plan_epochs = {a.slot: a.old.epoch for a in plan.bucket("stop") if a.old}
        result = await rollout.run()
        for slot in result.dropped:
            # Kept with no host: the epoch stays monotonic if the slot comes back (scale up), so
            # a copy left on a partitioned host can never pass for current.
            self.store.set_slot(spec.name, slot, plan_epochs.get(slot, 0), "")
        if self.publisher is not None:
            try:
                # Also when nothing changed here: discovery converges like the replicas do.
                await self.publish(fresh=result.changed)
            except Exception as error:  # noqa: BLE001 - reported; the replicas are in place
                result.failed.append(f"discovery not updated: {error}")
        report.lines = result.done
        report.changed = report.changed or result.changed
        if result.failed:
            report.failed = True
            report.message = f"{spec.name}: " + "; ".join(result.failed)
        if result.update_failed and spec.update.failure_action == "rollback" and rollback_allowed:
            await self._roll_back(spec, deploy.number if deploy else None, report)
        elif deploy is not None:
            status = "paused" if result.update_failed else ("failed" if result.failed
                                                             else "succeeded")  # fmt: skip
            self.store.finish_deploy(deploy.id, status, report.message)
        summary = plan.summary() if not report.failed else report.message
        if report.changed:
            self.store.audit("deploy", spec.name, summary, command=self.command + note)
        return report

    async def _roll_back(self, spec: ServiceSpec, number: int | None, report: DeployReport) -> None:
        previous = self.store.last_good_deploy(spec.name, before=number)
        deploy = self.store.deploy(spec.name, number) if number else None
        if previous is None:
            report.message += "; no earlier good deploy to roll back to"
            if deploy:
                self.store.finish_deploy(deploy.id, "failed", report.message)
            return
        self.log(f"{spec.name}: update failed, rolling back to deploy #{previous.number}")
        old = spec_from_dict(previous.spec)
        back = await self.deploy(old, rollback_allowed=False,
                                 note=f" (automatic rollback to #{previous.number})")  # fmt: skip
        report.lines += back.lines
        report.rolled_back_to = previous.number
        report.message += f"; rolled back to deploy #{previous.number} ({old.image})"
        if back.failed:
            report.message += f", and the rollback failed too: {back.message}"
        if deploy:
            self.store.finish_deploy(deploy.id, "rolled back", report.message)

    async def _remove(self, spec: ServiceSpec, plan: ServicePlan, report: DeployReport
                      ) -> DeployReport:  # fmt: skip
        known = self.store.get_service(spec.name) is not None
        # Forgotten first and discovery told, so clients stop being sent to replicas that are
        # about to go. Containers left behind by a failure still carry their labels: applying
        # `state: absent` again finds and removes them.
        self.store.remove_service(spec.name)
        if self.publisher is not None and known:
            await self.publish()
        result = await Rollout(self.pool, spec, plan, self.log).run()
        report.lines = result.done
        report.changed = result.changed or known
        if result.failed:
            report.failed = True
            report.message = f"{spec.name}: " + "; ".join(result.failed)
        self.store.audit("remove", spec.name, plan.summary(), command=self.command)
        return report

    def _missing_images(self, spec: ServiceSpec, plan: ServicePlan) -> list[str]:
        targets = {a.host for a in plan.actions if a.host}
        missing = []
        for host in sorted(targets):
            seen = self.observations.get(host)
            if isinstance(seen, HostObservation) and not seen.images.get(spec.image):
                missing.append(host)
        return missing


def describe_spec(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as shown in diffs and `orchestr status`: secret env values masked."""
    data = spec_to_dict(spec)
    data["env"] = masked_env(spec)
    data.pop("location", None)
    return data
