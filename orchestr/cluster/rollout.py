"""Carry out a service plan on the hosts: removals, restarts and new replicas on every host at
once (one round trip per host per step), then updates in health-gated batches. The store's slot
record changes only when a new replica has proven itself, so an interrupted run leaves a state
the next run completes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from orchestr.cluster.commands import (
    host_script,
    parse_host_script,
    remove_replica,
    run_replica,
    start_replica,
    stop_replica,
)
from orchestr.cluster.model import Container
from orchestr.cluster.reconcile import Action, ServicePlan
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.cluster.steps import Step
from orchestr.health.gate import GateResult, wait_until_serving
from orchestr.transport.command import Command
from orchestr.transport.pool import Pool

Log = Callable[[str], None]


@dataclass
class RolloutResult:
    done: list[Step] = field(default_factory=list)  # what was done
    failed: list[Step] = field(default_factory=list)  # what went wrong (kind "failed")
    confirmed: dict[str, tuple[int, str]] = field(default_factory=dict)  # slot -> (epoch, host)
    dropped: list[str] = field(default_factory=list)  # slots whose record goes (scale down)
    update_failed: bool = False  # an update batch failed its gate beyond the allowed ratio

    @property
    def changed(self) -> bool:
        return bool(self.done)


class Rollout:
    def __init__(self, pool: Pool, spec: ServiceSpec, plan: ServicePlan, log: Log,
                 on_confirm: Callable[[str, int, str], None] | None = None,
                 before_removal: Callable[[], Awaitable[None]] | None = None,
                 on_drop: Callable[[str], None] | None = None,
                 record: str = ""):  # fmt: skip
        self.pool = pool
        self.spec = spec
        self.plan = plan
        self.log = log
        self.on_confirm = on_confirm  # the store records a slot the moment it is confirmed
        # Discovery catches up (new replicas in, old ones out of HAProxy and DNS) before the
        # replicas they replace are removed, so clients are never sent to a gone container.
        self.before_removal = before_removal
        self.on_drop = on_drop  # the store retires a slot a scale-down drops
        self.record = record  # the service's record label (see cluster/recover.py)
        self.result = RolloutResult()

    async def run(self) -> RolloutResult:
        plan = self.plan
        removals = [*plan.bucket("fence"), *plan.bucket("stop")]
        self.result.dropped = [
            a.slot for a in plan.bucket("stop") if a.slot not in plan.slots_after
        ]
        if self.result.dropped:
            # A dropped slot's replica is still an endpoint: retired first and discovery told,
            # so no client is sent to it once it is gone.
            for slot in self.result.dropped:
                if self.on_drop is not None:
                    self.on_drop(slot)
            await self._publish()
        await self.remove(removals)
        await self.restart(plan.bucket("restart"))
        moves = [*plan.bucket("place"), *plan.bucket("lost"), *plan.bucket("migrate")]
        await self.start_new(moves, monitor=0.0)
        await self.update(plan.bucket("update"))
        return self.result

    # -- steps ------------------------------------------------------------------------------

    async def remove(self, actions: Sequence[Action]) -> None:
        by_host = _group(actions, lambda a: a.old.host if a.old else "")
        await self._per_host(by_host, lambda a: remove_replica(a.old.name),
                             lambda a: step_of(a, new=False))  # fmt: skip

    async def restart(self, actions: Sequence[Action]) -> None:
        by_host = _group(actions, lambda a: a.old.host if a.old else "")
        await self._per_host(by_host, lambda a: start_replica(a.old.name),
                             lambda a: step_of(a, new=False))  # fmt: skip

    async def start_new(self, actions: Sequence[Action], monitor: float) -> list[Action]:
        """Start the replicas, wait until they serve, confirm them; then the containers they
        replace go. Returns the actions whose new replica failed (already removed again)."""
        started = await self._run_new(actions)
        failed = [a for a in actions if a not in started]
        gate = await self._gate(started, monitor)
        good = [a for a in started if gate[a.new_name].ok]
        bad = [a for a in started if not gate[a.new_name].ok]
        for action in bad:
            self.result.failed.append(step_of(
                action, kind="failed",
                reason=f"{action.new_name} did not become healthy: {gate[action.new_name].detail}",
            ))  # fmt: skip
        await self._remove_names([(a.host or "", a.new_name) for a in bad])
        for action in good:
            self._confirm(action)
        replaced = [a for a in good if a.old is not None and a.kind != "update"]
        if good:
            await self._publish()
        await self._remove_names([(a.old.host, a.old.name) for a in replaced if a.old])
        return failed + bad

    async def update(self, actions: Sequence[Action]) -> None:
        """Batches of `parallelism`: each batch's new replicas must pass their check and stay
        healthy for `monitor` before the old ones go; a failed batch puts its old replicas back
        and then the failure action decides (rollback is done by the caller, which knows the
        previous spec)."""
        policy = self.spec.update
        size = max(1, policy.parallelism)
        failures = 0
        for index in range(0, len(actions), size):
            if index and policy.delay:
                await asyncio.sleep(policy.delay)
            batch = [a for a in actions[index : index + size] if a.host]
            self.log(f"{self.spec.name}: updating " + ", ".join(
                f"slot {a.slot} on {a.host}" for a in batch) +
                f" (batch {index // size + 1} of {-(-len(actions) // size)})")  # fmt: skip
            stop_first = [a for a in batch if not a.start_first]
            await self._per_host(
                _group(stop_first, lambda a: a.old.host if a.old else ""),
                lambda a: stop_replica(a.old.name, self.spec.stop_timeout),
                None,
            )  # fmt: skip
            failed = await self.start_new(batch, monitor=policy.monitor)
            # Put back what the failed ones replaced: stop-first olds were only stopped.
            await self._per_host(
                _group([a for a in failed if not a.start_first], lambda a: a.old.host),
                lambda a: start_replica(a.old.name),
                lambda a: step_of(a, kind="restored", reason="its replacement failed", new=False),
            )  # fmt: skip
            good = [a for a in batch if a not in failed]
            await self._remove_names([(a.old.host, a.old.name) for a in good if a.old])
            self.result.done += [step_of(action) for action in good]
            failures += len(failed)
            too_many = failures / max(1, len(actions)) > policy.max_failure_ratio
            if failed and too_many and policy.failure_action != "continue":
                self.result.update_failed = True
                return

    async def _publish(self) -> None:
        if self.before_removal is None:
            return
        try:
            await self.before_removal()
        except Exception as error:  # noqa: BLE001 - discovery lagging must not strand a rollout
            self.result.failed.append(Step("failed", self.spec.name, "", f"discovery not "
                                           f"updated: {error}"))  # fmt: skip

    # -- effects ----------------------------------------------------------------------------

    async def _run_new(self, actions: Sequence[Action]) -> list[Action]:
        by_host = _group(actions, lambda a: a.host or "")
        started: list[Action] = []

        def command(action: Action) -> Command:
            return run_replica(self.spec, action.slot, action.epoch, action.ports,
                               action.host or "", self.record)  # fmt: skip

        outcomes = await self._per_host(by_host, command, None)
        for action, ok in outcomes:
            if ok:
                started.append(action)
        return [a for a in actions if a in started]

    async def _gate(self, actions: Sequence[Action], monitor: float) -> dict[str, GateResult]:
        if not actions:
            return {}
        if self.spec.health is None and monitor <= 0:
            # Nothing to wait for: `docker run -d` succeeded, and with neither a check nor a
            # monitor period there is no later verdict to wait for (saves a round trip).
            return {a.new_name: GateResult(True, "started") for a in actions}
        replicas = [
            Container(host=a.host or "", name=a.new_name, service=self.spec.name, slot=a.slot,
                      epoch=a.epoch, spec_hash=self.plan.spec_hash, ports=a.ports)
            for a in actions
        ]  # fmt: skip
        return await wait_until_serving(self.pool, replicas, self.spec.health, monitor=monitor)

    def _confirm(self, action: Action) -> None:
        self.result.confirmed[action.slot] = (action.epoch, action.host or "")
        if self.on_confirm is not None:
            self.on_confirm(action.slot, action.epoch, action.host or "")
        if action.kind != "update":
            self.result.done.append(step_of(action))

    async def _remove_names(self, targets: Sequence[tuple[str, str]]) -> None:
        by_host: dict[str, list[str]] = {}
        for host, name in targets:
            by_host.setdefault(host, []).append(name)

        async def one(connection) -> None:  # noqa: ANN001
            names = by_host[connection.name]
            await connection.run(host_script([remove_replica(n) for n in names]), timeout=120)

        reachable = [h for h in by_host if h]
        for outcome in await self.pool.each(reachable, one):
            if outcome.error is not None:
                # A host that went away keeps its copy: fencing removes it when it returns.
                self.log(f"could not remove from {outcome.host}: {outcome.error}")

    async def _per_host(
        self,
        by_host: dict[str, list[Action]],
        command: Callable[[Action], Command],
        describe: Callable[[Action], Step] | None,
    ) -> list[tuple[Action, bool]]:
        """One script per host holding its actions' commands; all hosts at once. Failures are
        recorded per action; the others on that host still run."""
        outcomes: list[tuple[Action, bool]] = []

        async def one(connection) -> None:  # noqa: ANN001
            actions = by_host[connection.name]
            result = await connection.run(host_script([command(a) for a in actions]), timeout=300)
            for action, (status, output) in zip(
                actions, parse_host_script(result.stdout, len(actions)), strict=True
            ):
                ok = status == 0
                outcomes.append((action, ok))
                if ok and describe is not None:
                    self.result.done.append(describe(action))
                elif not ok:
                    why = _last_line(output) or f"exit status {status}"
                    self.result.failed.append(_failure(action, connection.name, why))

        for outcome in await self.pool.each([h for h in by_host if h], one):
            if outcome.error is not None:
                for action in by_host[outcome.host]:
                    outcomes.append((action, False))
                    self.result.failed.append(_failure(action, outcome.host, str(outcome.error)))
        return outcomes


def step_of(action: Action, *, kind: str = "", reason: str = "", new: bool = True) -> Step:
    """The step an action makes: about its new replica (`new`), else about the old one."""
    old = action.old
    was = {"old": old.name, "old_host": old.host} if old else {}
    if new and action.host:
        return Step(kind or action.kind, action.service, action.slot, reason or action.reason,
                    host=action.host, epoch=action.epoch, container=action.new_name,
                    ports=action.ports, **was)  # fmt: skip
    return Step(kind or action.kind, action.service, action.slot, reason or action.reason,
                host=old.host if old else "", epoch=old.epoch if old else 0,
                container=old.name if old else "", **was)  # fmt: skip


def _failure(action: Action, host: str, why: str) -> Step:
    return step_of(action, kind="failed", reason=f"{action.kind}: {why}",
                   new=bool(action.host) and action.host == host)  # fmt: skip


def _group(actions: Sequence[Action], key: Callable[[Action], str]) -> dict[str, list[Action]]:
    grouped: dict[str, list[Action]] = {}
    for action in actions:
        grouped.setdefault(key(action), []).append(action)
    return grouped


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
