"""One health sweep: observe every host at once, count host and replica health in the store
(HAProxy's fall/rise), restart failing replicas in place a few times, move the ones that keep
failing and those of hosts declared down, fence stale copies, then bring discovery up to date.
`orchestr sweep` runs one (cron); `orchestr watch` runs them in a loop over open connections."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from orchestr.cluster.deploy import Change, converge
from orchestr.cluster.model import Container
from orchestr.cluster.reconcile import ClusterView
from orchestr.cluster.spec import spec_from_dict
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.cluster.steps import PublishChange, Step
from orchestr.cluster.world import HOSTS, Cluster
from orchestr.health.checks import HealthState, advance, probe_for
from orchestr.store.store import HealthRecord

# A sweep's exit codes: cron and the systemd unit (`orchestr cron`) treat 0-2 as a sweep that
# ran; an error that kept the sweep from judging the cluster has its own, which fails the unit.
EXIT_HEALTHY, EXIT_HEALED, EXIT_DEGRADED, EXIT_SWEEP_ERROR = 0, 1, 2, 3
FACTS_EVERY = 30  # a watch loop re-reads hosts' facts (capacity, busy ports) every N sweeps


@dataclass(frozen=True)
class SweepOptions:
    report_only: bool = False
    host_fall: int = 2  # sweeps in a row a host may miss before it is declared down
    grace: float = 10.0  # ... or seconds it may stay unreachable
    restart_limit: int = 3  # in-place restarts of a failing replica before it is moved
    observe_timeout: float = 5.0


@dataclass
class SweepReport:
    started: float = 0.0
    duration: float = 0.0
    hosts: dict[str, str] = field(default_factory=dict)  # up | missing | down
    services: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)  # replica actions done (or that would be)
    published: list[PublishChange] = field(default_factory=list)  # what discovery changed
    problems: list[str] = field(default_factory=list)  # what could not be healed
    planned: list[str] = field(default_factory=list)  # --report-only: what a sweep would do

    @property
    def actions(self) -> list[Step | PublishChange]:
        return [*self.steps, *self.published]

    @property
    def relocations(self) -> int:
        return sum(1 for s in self.steps if s.relocation)

    @property
    def exit_code(self) -> int:
        """Degraded when something could not be healed or --report-only found work to do
        (nothing was healed); healed when it acted; and with nothing done, degraded while the
        cluster is short (a host suspect, a service below its desired count), else healthy. A
        host declared down whose replicas run elsewhere is dealt with: not degraded."""
        if self.problems or self.planned:
            return EXIT_DEGRADED
        if self.actions:
            return EXIT_HEALED
        return EXIT_HEALTHY if self.whole else EXIT_DEGRADED

    @property
    def whole(self) -> bool:
        return all(state != "missing" for state in self.hosts.values()) and all(
            counts.get("healthy", 0) >= counts.get("desired", 0)
            for counts in self.services.values())  # fmt: skip

    @property
    def verdict(self) -> str:
        if self.planned:
            return "NEEDS HEALING (report only: nothing done)"
        return {EXIT_HEALTHY: "healthy", EXIT_HEALED: "healed"}.get(self.exit_code, "DEGRADED")

    def as_data(self) -> dict[str, Any]:
        return {"started": self.started, "seconds": round(self.duration, 3),
                "hosts": self.hosts, "services": self.services,
                "actions": [a.as_data() for a in self.actions], "planned": self.planned,
                "problems": self.problems, "relocations": self.relocations,
                "exit": self.exit_code}  # fmt: skip


def started_at(container: Container, fallback: float) -> float:
    """docker's StartedAt (RFC 3339 with nanoseconds) as a unix time."""
    text = container.started_at
    if not text or text.startswith("0001-"):
        return fallback
    # Python's fromisoformat takes microseconds at most: drop the fraction (a second is plenty).
    try:
        return datetime.fromisoformat(re.sub(r"\.\d+", "", text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return fallback


def host_verdict(previous: HealthRecord | None, reachable: bool, now: float,
                 options: SweepOptions) -> HealthRecord:  # fmt: skip
    """A host's record after one sweep: up while it answers; missing after a miss; down after
    `host_fall` misses in a row or `grace` seconds unreachable, whichever comes first."""
    if reachable:
        if previous is not None and previous.status == "up":
            return previous
        return HealthRecord(successes=1, failures=0, status="up", since=now, restarts=0)
    failures = (previous.failures if previous and previous.status != "up" else 0) + 1
    since = previous.since if previous and previous.status != "up" else now
    down = failures >= options.host_fall or now - since >= options.grace
    status = "down" if down else "missing"
    if previous is not None and previous.status == "down":
        since = previous.since
    return HealthRecord(successes=0, failures=failures, status=status, since=since, restarts=0)


class Sweeper:
    def __init__(self, cluster: Cluster, options: SweepOptions,
                 log: Callable[[str], None] | None = None):  # fmt: skip
        self.cluster = cluster
        self.options = options
        self.log = log or (lambda line: None)
        cluster.observe_timeout = options.observe_timeout
        # A watch loop's memory, so a sweep of an unchanged cluster is one round trip per host:
        # facts are re-read only every FACTS_EVERY sweeps, and the replicas known from the last
        # sweep are probed inside the observe script itself.
        self._facts: dict[str, Any] = {}
        self._probes: dict[str, list[Any]] = {}
        self._sweeps = 0

    async def sweep(self) -> SweepReport:
        report = SweepReport(started=time.time())
        clock = time.monotonic()
        store = self.cluster.store
        await self.cluster.ensure_store(self.options.observe_timeout)
        services = store.services()
        specs = {s.name: spec_from_dict(s.spec) for s in services}
        self._specs = specs
        await self._observe()
        self._judge_hosts(report)
        view = self.cluster.view()
        unhealthy, evict = await self._judge_replicas(view, specs, report)
        self.cluster.unhealthy = frozenset(unhealthy)
        await self._heal(services, specs, replace(view, evict=evict), report)
        candidates = {s.name: s.hosts for s in services}
        self._count(self.cluster.view(), specs, candidates, unhealthy, report)
        report.duration = time.monotonic() - clock
        return report

    async def _observe(self) -> None:
        from orchestr.cluster.observe import HostObservation
        from orchestr.health.checks import probe_script

        refresh = self._sweeps % FACTS_EVERY == 0
        self._sweeps += 1
        known = {} if refresh else self._facts
        extra = {host: probe_script(probes) for host, probes in self._probes.items() if probes}
        await self.cluster.observe(timeout=self.options.observe_timeout, known=known,
                                   extra=extra)  # fmt: skip
        for host, seen in self.cluster.observations.items():
            if isinstance(seen, HostObservation) and seen.docker_ok:
                self._facts[host] = seen.facts
            else:
                self._facts.pop(host, None)  # read afresh once it answers again

    # -- hosts ------------------------------------------------------------------------------

    def _judge_hosts(self, report: SweepReport) -> None:
        store = self.cluster.store
        records = store.health(HOSTS)
        now = time.time()
        for name, seen in sorted(self.cluster.observations.items()):
            reachable = seen is not None and not isinstance(seen, Exception) and seen.docker_ok
            before = records.get(name)
            after = host_verdict(before, reachable, now, self.options)
            report.hosts[name] = after.status
            if after == before:
                continue
            if not self.options.report_only:
                store.set_health(HOSTS, name, after)
            was = before.status if before else "new"
            if after.status != was:
                why = ("answers" if before is None else "answers again") if reachable else (
                    f"unreachable: {seen}" if isinstance(seen, Exception) else "docker not answering"
                )  # fmt: skip
                self._event(f"host {after.status}", why, host=name)

    # -- replicas ---------------------------------------------------------------------------

    async def _judge_replicas(self, view: ClusterView, specs: dict[str, ServiceSpec],
                              report: SweepReport) -> tuple[set[str], dict[str, str]]:  # fmt: skip
        """Probe every current replica that has a check (one round trip per host), advance its
        counters, and decide: restart in place, or evict after too many restarts."""
        from orchestr.cluster.views import probe_health

        store = self.cluster.store
        current = self._current(view, specs)
        checks = {name: spec.health for name, spec in specs.items()}
        verdicts = self._probed_in_observe(current)
        unprobed = [c for c in current if c.name not in verdicts]
        verdicts.update(await probe_health(self.cluster, unprobed, checks))
        self._remember_probes(current, checks)
        now = time.time()
        unhealthy: set[str] = set()
        evict: dict[str, str] = {}
        restart: list[Container] = []
        for c in current:
            spec = specs[c.service]
            records = store.health(c.service)
            record = records.get(c.name)
            verdict = verdicts.get(c.name, "")
            if spec.health is not None and c.running:
                ok = verdict == "healthy"
                state = advance(_state(record), ok, now, spec.health, started_at(c, now))
                status = state.status
            else:
                ok = c.running
                status = "healthy" if ok else "unhealthy"
                state = HealthState(status, int(ok), int(not ok),
                                    record.since if record and record.status == status else now)  # fmt: skip
            restarts = max(record.restarts if record else 0, c.restart_count)
            new = HealthRecord(state.successes, state.failures, status, state.since, restarts)
            if record is None or record.status != status:
                self._event(f"replica {status}", f"{c.name}: {verdict or c.state}",
                            host=c.host, service=c.service)  # fmt: skip
            if status == "unhealthy":
                unhealthy.add(c.name)
                if restarts >= self.options.restart_limit:
                    evict[c.name] = f"unhealthy after {restarts} restarts on {c.host}"
                elif c.running:  # an exited one is restarted by reconcile's restart bucket
                    restart.append(c)
                    new = replace(new, restarts=restarts + 1)
                elif not c.running:
                    new = replace(new, restarts=restarts + 1)
            if new != record and not self.options.report_only:
                store.set_health(c.service, c.name, new)
        await self._restart_in_place(restart, report)
        return unhealthy, evict

    def _probed_in_observe(self, current: Sequence[Container]) -> dict[str, str]:
        """Verdicts for replicas whose probe rode along with this sweep's observe script."""
        from orchestr.cluster.observe import HostObservation
        from orchestr.health.checks import parse_probe_output

        verdicts: dict[str, str] = {}
        for c in current:
            seen = self.cluster.observations.get(c.host)
            probed = {p.key for p in self._probes.get(c.host, [])}
            if not isinstance(seen, HostObservation) or c.name not in probed or not c.running:
                continue
            answer = parse_probe_output(seen.extra_output, [c.name]).get(c.name)
            if answer is not None:
                verdicts[c.name] = "healthy" if answer.ok else f"unhealthy: {answer.detail}"
        return verdicts

    def _remember_probes(self, current: Sequence[Container],
                         checks: dict[str, Any]) -> None:  # fmt: skip
        probes: dict[str, list[Any]] = {}
        for c in current:
            check = checks.get(c.service)
            probe = probe_for(c, check) if check is not None and c.running else None
            if probe is not None:
                probes.setdefault(c.host, []).append(probe)
        self._probes = probes

    def _current(self, view: ClusterView, specs: dict[str, ServiceSpec]) -> list[Container]:
        return self.cluster.current(view.containers, specs)

    async def _restart_in_place(self, replicas: Sequence[Container], report: SweepReport) -> None:
        from orchestr.cluster.commands import host_script, parse_host_script
        from orchestr.transport.command import Command

        by_host: dict[str, list[Container]] = {}
        for c in replicas:
            by_host.setdefault(c.host, []).append(c)
            step = Step("restart", c.service, c.slot, "unhealthy", host=c.host, epoch=c.epoch,
                        container=c.name, old=c.name, old_host=c.host)  # fmt: skip
            if self.options.report_only:
                report.planned.append(step.text())
            else:
                report.steps.append(step)
        if self.options.report_only or not by_host:
            return

        async def one(connection) -> None:  # noqa: ANN001
            mine = by_host[connection.name]
            # A failing replica gets little time to stop gracefully: its spec's stop_timeout,
            # else 2 s (docker's 10 s would hold the whole sweep up).
            script = host_script([
                Command.argv("docker", "restart", "--time", str(self._stop_time(c)), c.name)
                for c in mine
            ])  # fmt: skip
            result = await connection.run(script, timeout=120)
            for c, (status, output) in zip(mine, parse_host_script(result.stdout, len(mine)),
                                           strict=True):  # fmt: skip
                if status == 0:
                    self._event("replica restarted", f"{c.name} (unhealthy)", host=c.host,
                                service=c.service)  # fmt: skip
                else:
                    report.problems.append(f"could not restart {c.name} on {c.host}: {output}")

        for outcome in await self.cluster.pool.each(list(by_host), one):
            if outcome.error is not None:
                report.problems.append(f"could not restart on {outcome.host}: {outcome.error}")

    def _stop_time(self, c: Container) -> int:
        spec = self._specs.get(c.service)
        return spec.stop_timeout if spec is not None and spec.stop_timeout is not None else 2

    # -- healing ----------------------------------------------------------------------------

    async def _heal(self, services: list[Any], specs: dict[str, ServiceSpec], view: ClusterView,
                    report: SweepReport) -> None:  # fmt: skip
        """Every service through the one path, each on its own stored candidates, over this
        sweep's observation; then discovery is published from the whole cluster."""
        changes = [Change(specs[s.name], tuple(s.hosts), kind="heal", rollback=False,
                          partial=True) for s in sorted(services, key=lambda s: s.name)]  # fmt: skip
        outcome = await converge(self.cluster, changes, view=view,
                                 check=self.options.report_only)  # fmt: skip
        for result in outcome.reports:
            plan = result.plan
            if self.options.report_only and plan is not None:
                report.planned += plan.lines()[: len(plan.actions)]
            report.steps += result.steps
            report.problems += [f"{result.service}: {r}" for r in plan.unplaced] if plan else []
            report.problems += [f"{result.service}: {s.reason}" for s in result.failures]
        report.published += outcome.published
        report.problems += [f"discovery not updated: {p}" for p in outcome.discovery_problems]

    # -- report -----------------------------------------------------------------------------

    def _count(self, view: ClusterView, specs: dict[str, ServiceSpec],
               candidates: dict[str, list[str]], unhealthy: set[str],
               report: SweepReport) -> None:  # fmt: skip
        from orchestr.cluster.reconcile import desired_slots

        current = self._current(view, specs)
        for name, spec in sorted(specs.items()):
            mine = [c for c in current if c.service == name]
            running = [c for c in mine if c.running]
            report.services[name] = {
                "desired": len(desired_slots(spec, view.for_service(candidates[name]))),
                "running": len(running),
                "healthy": sum(1 for c in running if c.name not in unhealthy),
            }

    def _event(self, kind: str, detail: str, host: str | None = None,
               service: str | None = None) -> None:  # fmt: skip
        self.log(f"{kind}: {detail}")
        if not self.options.report_only:
            self.cluster.store.record_event(kind, detail, host=host, service=service)


def _state(record: HealthRecord | None) -> HealthState | None:
    if record is None or record.status not in ("starting", "healthy", "unhealthy"):
        return None
    return HealthState(record.status, record.successes, record.failures, record.since)


def metrics_text(report: SweepReport) -> str:
    """node_exporter's textfile format: gauges per service and host, the sweep's own figures."""
    lines = [
        "# HELP orchestr_service_desired Replicas a service should have.",
        "# TYPE orchestr_service_desired gauge",
    ]
    for name, counts in sorted(report.services.items()):
        lines.append(f'orchestr_service_desired{{service="{name}"}} {counts["desired"]}')
    lines += ["# HELP orchestr_service_healthy Replicas running and passing their check.",
              "# TYPE orchestr_service_healthy gauge"]  # fmt: skip
    for name, counts in sorted(report.services.items()):
        lines.append(f'orchestr_service_healthy{{service="{name}"}} {counts["healthy"]}')
    lines += ["# HELP orchestr_host_up Whether a host answered the last sweep (1) or not (0).",
              "# TYPE orchestr_host_up gauge"]  # fmt: skip
    for name, status in sorted(report.hosts.items()):
        lines.append(f'orchestr_host_up{{host="{name}"}} {1 if status == "up" else 0}')
    lines += [
        "# HELP orchestr_sweep_duration_seconds How long the last sweep took.",
        "# TYPE orchestr_sweep_duration_seconds gauge",
        f"orchestr_sweep_duration_seconds {report.duration:.3f}",
        "# HELP orchestr_sweep_relocations Replicas moved to another host by the last sweep.",
        "# TYPE orchestr_sweep_relocations gauge",
        f"orchestr_sweep_relocations {report.relocations}",
        "# HELP orchestr_sweep_timestamp_seconds When the last sweep started.",
        "# TYPE orchestr_sweep_timestamp_seconds gauge",
        f"orchestr_sweep_timestamp_seconds {report.started:.3f}",
    ]
    return "\n".join(lines) + "\n"


def write_metrics(path: str, report: SweepReport) -> None:
    """Atomically, as node_exporter's textfile collector expects (it may read at any moment)."""
    from orchestr.files import replace_file

    replace_file(path, metrics_text(report))
