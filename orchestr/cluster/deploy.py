"""The one path for every change to services (apply, scale, rollback, drain/undrain, a sweep's
heal): observe the world -> reconcile each service against its own candidates (pure) -> refuse
an incomplete plan before acting -> carry out (rollout; publish before any removal) -> record
(slots and epochs confirmed, deploy history, audit, events). A failed update rolls back to the
last good spec by the same path. A new verb is a new list of Changes, never a copy of this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestr.cluster.observe import HostObservation
from orchestr.cluster.recover import record_label
from orchestr.cluster.reconcile import ClusterView, ServicePlan, reconcile
from orchestr.cluster.rollout import Rollout
from orchestr.cluster.spec import masked_env, spec_from_dict, spec_hash, spec_to_dict
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.cluster.steps import EVENT_KINDS, PublishChange, Step
from orchestr.cluster.world import Cluster
from orchestr.store.interface import Deploy


@dataclass(frozen=True)
class Change:
    """One service to bring to `spec`, placed only on `candidates`."""

    spec: ServiceSpec
    candidates: tuple[str, ...]
    note: str = ""  # said in the audit log and deploy history: " (scale to 3)"
    kind: str = "deploy"  # deploy: the spec is recorded; heal: a sweep keeps the stored one
    rollback: bool = True  # a failed update goes back to the last good deploy
    # A heal carries out what it can and reports the rest; a deploy refuses an incomplete plan.
    partial: bool = False


@dataclass
class DeployReport:
    service: str
    plan: ServicePlan | None = None
    changed: bool = False
    failed: bool = False
    message: str = ""
    steps: list[Step] = field(default_factory=list)  # done (or, in check mode, none)
    failures: list[Step] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    deploy_number: int | None = None
    rolled_back_to: int | None = None
    planned_only: bool = False  # check mode, or refused: the plan was not carried out

    @property
    def lines(self) -> list[str]:
        """What was done, as people read it (when only planned: what would be)."""
        if self.planned_only and self.plan is not None:
            return self.plan.lines()
        return [s.text() for s in [*self.steps, *self.failures]]

    @property
    def relocations(self) -> int:
        return sum(1 for s in self.steps if s.relocation)

    def as_data(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "service": self.service,
            "plan": plan.counts() if plan else {},
            "actions": [s.as_data() for s in self.steps],
            "failures": [s.as_data() for s in self.failures],
            "unplaced": list(plan.unplaced) if plan else [],
            "unreachable": self.unreachable,
            "deploy": self.deploy_number,
            "rolled_back_to": self.rolled_back_to,
        }


@dataclass
class Converged:
    """What one pass of the path did: a report per change, and what discovery changed."""

    reports: list[DeployReport] = field(default_factory=list)
    published: list[PublishChange] = field(default_factory=list)
    discovery_problems: list[str] = field(default_factory=list)  # LB hosts not told

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.reports)


async def converge(cluster: Cluster, changes: Sequence[Change], *, check: bool = False,
                   view: ClusterView | None = None, publish: bool = True) -> Converged:  # fmt: skip
    """Bring each service to its change's spec, one after the other over one observation of the
    world (observed again after a service changed something). Plans that cannot place every
    replica are refused, before anything is done, unless the change is partial. Then HAProxy
    and DNS are published from the whole cluster (`publish`: also when nothing changed, so
    discovery converges like the replicas do)."""
    for change in changes:
        cluster.name(change.candidates)
    images = [c.spec.image for c in changes if c.spec.state == "present"]
    evict = view.evict if view is not None else {}
    if view is None:  # (a sweep passes its own, and says itself which hosts did not answer)
        view = await cluster.observe(images)
        for host in cluster.unreachable():
            cluster.log(f"{host} unreachable: {cluster.observations[host]}")
    plans = [_plan(cluster, change, view) for change in changes]
    refused = [plan.service for plan, change in zip(plans, changes, strict=True)
               if plan.unplaced and not change.partial]  # fmt: skip
    if check or refused:
        return Converged([_unchanged(cluster, change, plan, refused, check)
                          for change, plan in zip(changes, plans, strict=True)])  # fmt: skip
    done = Converged()
    changed = False
    for index, change in enumerate(changes):
        if changed:  # what the last service did changed the world the next one is placed in
            view = replace(await cluster.observe(images), evict=evict)
            plans[index] = _plan(cluster, change, view)
        report = await _carry_out(cluster, change, plans[index], done)
        changed = changed or report.changed
        done.reports.append(report)
    if publish:
        await _publish(cluster, done, fresh=changed)
        for report in done.reports:
            for problem in done.discovery_problems:
                report.failed = True
                report.message = "; ".join(filter(None, [report.message,
                                                         f"discovery not updated: {problem}"]))  # fmt: skip
    return done


async def _publish(cluster: Cluster, done: Converged, *, fresh: bool = True) -> None:
    """Discovery from the whole cluster; a failure is reported, never raised (the replicas are
    in place, and a rollout must not be stranded by a lagging LB host)."""
    try:
        outcome = await cluster.publish(fresh=fresh)
    except Exception as error:  # noqa: BLE001
        done.discovery_problems.append(str(error))
        return
    if outcome is not None:
        done.published += outcome.changes
        done.discovery_problems += outcome.problems


def _plan(cluster: Cluster, change: Change, view: ClusterView) -> ServicePlan:
    return reconcile(change.spec, view.for_service(change.candidates),
                     cluster.record_of(change.spec.name))  # fmt: skip


def _unchanged(cluster: Cluster, change: Change, plan: ServicePlan, refused: list[str],
               check: bool) -> DeployReport:  # fmt: skip
    """The report of a change planned and not carried out: check mode, or a refusal."""
    spec = change.spec
    report = DeployReport(spec.name, plan, unreachable=cluster.unreachable(), planned_only=True)
    stored = cluster.store.get_service(spec.name)
    report.changed = plan.changed or (_new_spec(stored, spec) and spec.state == "present")
    report.message = plan.summary()
    if spec.name in refused:
        report.failed = True
        report.message = f"{spec.name}: cannot place every replica, nothing changed: " + \
            "; ".join(plan.unplaced)  # fmt: skip
    elif refused and not check:
        report.failed = True
        report.message = f"{spec.name}: nothing changed: {', '.join(refused)} cannot be placed"
    return report


def _new_spec(stored: Any, spec: ServiceSpec) -> bool:
    return stored is None or stored.spec_hash != spec_hash(spec) or \
        spec_from_dict(stored.spec) != replace(spec, location=stored.spec.get("location", ""))  # fmt: skip


async def _carry_out(cluster: Cluster, change: Change, plan: ServicePlan,
                     done: Converged) -> DeployReport:  # fmt: skip
    spec = change.spec
    store = cluster.store
    report = DeployReport(spec.name, plan, unreachable=cluster.unreachable())
    for reason in plan.unplaced:  # a partial change (heal) goes on with what it can place
        report.failed = True
        report.message = "; ".join(filter(None, [report.message, reason]))
    missing = _missing_images(cluster, spec, plan)
    if missing:
        report.failed = True
        report.message = (f"{spec.name}: image {spec.image} is not on {', '.join(missing)}; "
                          "ship it first (docker_image with source: local, or "
                          "orchestr image push)")  # fmt: skip
        return report
    stored = store.get_service(spec.name)
    new_spec = change.kind == "deploy" and _new_spec(stored, spec)
    report.changed = plan.changed or (new_spec and spec.state == "present")
    if spec.state == "absent":
        return await _remove(cluster, change, plan, report, done)
    deploy = _settle_interrupted(cluster, spec.name, plan.spec_hash)
    if new_spec and deploy is None:
        deploy = store.begin_deploy(spec.name, spec_to_dict(spec), plan.spec_hash, user=None,
                                    command=cluster.command + change.note)  # fmt: skip
        cluster.deploys_begun.add(deploy.id)
    if deploy is not None:
        report.deploy_number = deploy.number
    if change.kind == "deploy":
        # Recorded before the rollout: discovery, published during it, renders from the store.
        store.set_service(spec.name, spec_to_dict(spec), plan.spec_hash,
                          deploy.id if deploy else (stored.deploy_id if stored else None),
                          list(change.candidates))  # fmt: skip
    result = await _rollout(cluster, spec, plan, done, change.candidates)
    report.steps, report.failures = result.done, result.failed
    report.changed = report.changed or result.changed
    if result.failed:
        report.failed = True
        report.message = "; ".join(filter(None, [report.message, f"{spec.name}: " + "; ".join(
            s.reason for s in result.failed)]))  # fmt: skip
    if result.update_failed and spec.update.failure_action == "rollback" and change.rollback:
        await _roll_back(cluster, change, deploy.number if deploy else None, report, done)
    elif deploy is not None and (change.kind == "deploy" or not report.failed):
        status = "paused" if result.update_failed else ("failed" if result.failed
                                                         else "succeeded")  # fmt: skip
        store.finish_deploy(deploy.id, status, report.message)
    if report.changed:
        summary = plan.summary() if not report.failed else report.message
        store.audit(change.kind, spec.name, summary, command=cluster.command + change.note)
    return report


def _settle_interrupted(cluster: Cluster, service: str, spec_hash: str) -> Deploy | None:
    """Deploys of `service` left "running" by a command that was killed. The newest one, when
    it carried the spec now being converged, is adopted: this run finishes it, so its outcome
    is recorded and a later rollback finds it (else rollback would skip it and go back too
    far). Every other one is closed as interrupted."""
    unfinished = [d for d in cluster.store.deploys(service)
                  if d.status == "running" and d.id not in cluster.deploys_begun]  # fmt: skip
    adopted = None
    if unfinished and unfinished[-1].spec_hash == spec_hash:
        adopted = unfinished.pop()
        cluster.deploys_begun.add(adopted.id)
    for deploy in unfinished:
        cluster.store.finish_deploy(deploy.id, "interrupted",
                                    "its command ended before the deploy finished")  # fmt: skip
    return adopted


async def _rollout(cluster: Cluster, spec: ServiceSpec, plan: ServicePlan, done: Converged,
                   candidates: Sequence[str]) -> Any:  # fmt: skip
    """Carry out a plan: the store confirms each slot as its replica proves itself, discovery
    is told before any replica is removed, dropped slots keep their epoch, and every step is
    recorded as an event."""
    store = cluster.store

    async def before_removal() -> None:
        known = len(done.discovery_problems)
        await _publish(cluster, done)
        if len(done.discovery_problems) > known:  # the rollout says so with its step
            raise RuntimeError("; ".join(done.discovery_problems[known:]))

    # A dropped slot is kept with no host: its epoch stays monotonic if the slot comes back
    # (scale up), so a copy left on a partitioned host can never pass for current.
    epochs = {a.slot: a.old.epoch for a in plan.bucket("stop") if a.old}
    result = await Rollout(
        cluster.pool, spec, plan, cluster.log,
        on_confirm=lambda slot, epoch, host: store.set_slot(spec.name, slot, epoch, host),
        before_removal=before_removal if cluster.publisher is not None else None,
        on_drop=lambda slot: store.set_slot(spec.name, slot, epochs.get(slot, 0), ""),
        record=record_label(spec, candidates),
    ).run()  # fmt: skip
    for step in [*result.done, *result.failed]:  # the callers show them: no log line here
        store.record_event(EVENT_KINDS.get(step.kind, step.kind), step.text(),
                           host=step.host or None, service=spec.name)  # fmt: skip
    return result


async def _roll_back(cluster: Cluster, change: Change, number: int | None,
                     report: DeployReport, done: Converged) -> None:  # fmt: skip
    store = cluster.store
    name = change.spec.name
    previous = store.last_good_deploy(name, before=number)
    deploy = store.deploy(name, number) if number else None
    if previous is None:
        report.message += "; no earlier good deploy to roll back to"
        if deploy:
            store.finish_deploy(deploy.id, "failed", report.message)
        return
    cluster.log(f"{name}: update failed, rolling back to deploy #{previous.number}")
    old = spec_from_dict(previous.spec)
    again = await converge(cluster, [replace(
        change, spec=old, rollback=False, note=f" (automatic rollback to #{previous.number})"
    )], publish=False)  # fmt: skip
    (back,) = again.reports
    done.published += again.published
    report.steps += back.steps
    report.failures += back.failures
    report.rolled_back_to = previous.number
    report.message += f"; rolled back to deploy #{previous.number} ({old.image})"
    if back.failed:
        report.message += f", and the rollback failed too: {back.message}"
    if deploy:
        store.finish_deploy(deploy.id, "rolled back", report.message)


async def _remove(cluster: Cluster, change: Change, plan: ServicePlan, report: DeployReport,
                  done: Converged) -> DeployReport:  # fmt: skip
    spec = change.spec
    known = cluster.store.get_service(spec.name) is not None
    # Forgotten first and discovery told, so clients stop being sent to replicas that are
    # about to go. Containers left behind by a failure still carry their labels: applying
    # `state: absent` again finds and removes them.
    cluster.store.remove_service(spec.name)
    if known:
        await _publish(cluster, done)
    result = await _rollout(cluster, spec, plan, done, change.candidates)
    report.steps, report.failures = result.done, result.failed
    report.changed = result.changed or known
    if result.failed:
        report.failed = True
        report.message = f"{spec.name}: " + "; ".join(s.reason for s in result.failed)
    cluster.store.audit("remove", spec.name, plan.summary(), command=cluster.command)
    return report


def _missing_images(cluster: Cluster, spec: ServiceSpec, plan: ServicePlan) -> list[str]:
    """Target hosts whose observation looked the image up and did not find it."""
    targets = {a.host for a in plan.actions if a.host}
    missing = []
    for host in sorted(targets):
        seen = cluster.observations.get(host)
        if isinstance(seen, HostObservation) and seen.images.get(spec.image, "-") == "":
            missing.append(host)
    return missing


def describe_spec(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as shown in diffs and `orchestr status`: secret env values masked."""
    data = spec_to_dict(spec)
    data["env"] = masked_env(spec)
    data.pop("location", None)
    return data
