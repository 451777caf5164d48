"""Service commands: plan, status, ps, logs, scale, drain/undrain, rollback, history.

They find a service's candidate hosts in the store (as last applied) and reach them through the
inventory given with -i. Commands that change something take the store's lock (--lock-wait);
the views only read."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from orchestr.errors import EXIT_HOSTS_FAILED, EXIT_OK, OptionsError
from orchestr.targets import connection_options, warn

LOCK_WAIT = click.option("--lock-wait", type=float, default=0.0, metavar="SECONDS",
                         show_default=True, help="Wait this long for a run holding the lock.")  # fmt: skip
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


# -- shared plumbing ------------------------------------------------------------------------


def _open_store(lock: bool, lock_wait: float, purpose: str):  # noqa: ANN202
    from orchestr.cluster.runtime import ServiceRuntime
    from orchestr.store.store import Store, command_line

    if lock:
        runtime = ServiceRuntime(lock_wait=lock_wait, purpose=purpose, command=command_line(),
                                 warn=lambda m: warn([m]))  # fmt: skip
        return runtime.store(), runtime.close
    store = Store.open(_store_path())
    return store, store.close


def _store_path() -> str:
    from orchestr.store.store import default_store_path

    return default_store_path()


def _stored(store, name: str):  # noqa: ANN001, ANN202
    service = store.get_service(name)
    if service is None:
        known = ", ".join(s.name for s in store.services()) or "none yet"
        raise OptionsError(f"no service named {name!r} in the store ({store.path})",
                           hint=f"services: {known}; apply a playbook with a service task first")  # fmt: skip
    return service


def _with_cluster(flags: dict[str, Any], store, work: Callable[[Any], Awaitable[int]],
                  *, publish: bool = True) -> int:  # noqa: ANN001  # fmt: skip
    """The cluster handle (its world from the store, hosts reached through the inventory
    given with -i, discovery published unless told not to), then `work` on it."""
    from orchestr.cluster.world import Cluster
    from orchestr.discovery.publish import publisher_for
    from orchestr.inventory.model import Inventory
    from orchestr.store.store import command_line
    from orchestr.targets import inventory_given, resolve_targets
    from orchestr.transport.pool import Pool

    if flags.get("timeout") is None:
        flags = {**flags, "timeout": 3.0}  # a dead host must not hold a view up for 10 s
    # A store never written to may be a lost one: the inventory's hosts are read to rebuild it.
    lost = not store.audit_log(limit=1) and inventory_given(flags)
    if store.services() or store.all_slots() or lost:
        targets = resolve_targets("all", flags)
        warn([w for w in targets.warnings if "No hosts matched" not in w])
        inventory, settings, options = targets.inventory, targets.settings, targets.pool_options
    else:  # an empty cluster: no host to reach, no inventory needed
        inventory, settings, options = Inventory({}, {}), [], None

    async def go() -> int:
        async with Pool(settings, options) as pool:
            # Progress goes to stderr: stdout stays the command's result (--json parses).
            cluster = Cluster(pool, inventory, store=store, command=command_line(),
                              publisher=publisher_for(inventory) if publish else None,
                              log=lambda line: click.echo(f"  {line}", err=True))  # fmt: skip
            return await work(cluster)

    return asyncio.run(go())


def _print_published(done) -> None:  # noqa: ANN001
    """What discovery changed, as progress on stderr (stdout stays the result)."""
    for change in done.published:
        click.echo(f"  {change.text()}", err=True)


def _print_report(report, as_json: bool) -> int:  # noqa: ANN001
    if as_json:
        click.echo(json.dumps({**report.as_data(), "changed": report.changed,
                               "failed": report.failed, "msg": report.message}))  # fmt: skip
    else:
        for line in report.lines:
            click.echo(f"  {line}")
        state = "FAILED" if report.failed else ("changed" if report.changed else "ok")
        click.echo(f"{report.service}: {state}" + (f": {report.message}" if report.message else ""))
    return EXIT_HOSTS_FAILED if report.failed else EXIT_OK


# -- plan -------------------------------------------------------------------------------------


@click.command(name="plan", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def plan_command(ctx: click.Context, args: tuple[str, ...]) -> None:
    """What `apply` would do, changing nothing: `orchestr apply --check --diff` (same flags)."""
    from orchestr.playbook.cli import apply_command

    ctx.invoke(apply_command.main, args=[*args, "--check", "--diff"], standalone_mode=False)


# -- views ------------------------------------------------------------------------------------


@click.command(name="status")
@connection_options
@AS_JSON
def status_command(as_json: bool, **flags: Any) -> None:
    """Services (desired, running, healthy, where) and hosts (up, drained, load)."""
    from orchestr.cluster.views import cluster_status, render_status

    store, close = _open_store(False, 0, "status")
    try:

        async def work(cluster) -> int:  # noqa: ANN001
            await cluster.ensure_store()  # a lost store is rebuilt, never shown as empty
            status = await cluster_status(cluster, store.services())
            click.echo(json.dumps(status, indent=2) if as_json else render_status(status))
            return EXIT_OK

        code = _with_cluster(flags, store, work, publish=False)
    finally:
        close()
    sys.exit(code)


@click.command(name="ps")
@click.argument("service")
@connection_options
@AS_JSON
def ps_command(service: str, as_json: bool, **flags: Any) -> None:
    """The replicas of SERVICE: slot, epoch, host, state, health, ports."""
    from orchestr.cluster.views import render_ps, service_replicas

    store, close = _open_store(False, 0, "ps")
    try:
        stored = _stored(store, service)

        async def work(cluster) -> int:  # noqa: ANN001
            rows = await service_replicas(cluster, stored)
            click.echo(json.dumps(rows, indent=2) if as_json else render_ps(rows))
            return EXIT_OK

        code = _with_cluster(flags, store, work, publish=False)
    finally:
        close()
    sys.exit(code)


@click.command(name="logs")
@click.argument("service")
@click.option("--follow", is_flag=True, help="Keep printing new lines (-f is --forks here).")
@click.option("-n", "--tail", default="50", show_default=True, help="Lines from the end.")
@connection_options
def logs_command(service: str, follow: bool, tail: str, **flags: Any) -> None:
    """The logs of every replica of SERVICE, each line prefixed with slot and host."""
    from orchestr.cluster.observe import HostObservation
    from orchestr.transport.command import Command

    store, close = _open_store(False, 0, "logs")
    try:
        _stored(store, service)  # an unknown service is refused before any host is reached

        async def work(cluster) -> int:  # noqa: ANN001
            await cluster.observe()
            jobs = []
            for host, seen in sorted(cluster.observations.items()):
                if not isinstance(seen, HostObservation):
                    continue
                for c in seen.containers:
                    if c.service != service:
                        continue
                    words = ["docker", "logs", "--tail", str(tail)] + (["-f"] if follow else [])
                    prefix = f"{service}.{c.slot}@{host} | "
                    jobs.append(_stream(cluster.pool, host, Command.argv(*words, c.name), prefix))
            await asyncio.gather(*jobs)
            return EXIT_OK

        code = _with_cluster(flags, store, work, publish=False)
    finally:
        close()
    sys.exit(code)


async def _stream(pool, host: str, command, prefix: str) -> None:  # noqa: ANN001
    """A replica's log lines as they come; its stderr too (docker logs replays both)."""
    connection = await pool.connection(host)
    await connection.run(command, timeout=None,
                         on_line=lambda _stream, line: click.echo(prefix + line.rstrip("\n")))  # fmt: skip


@click.command(name="history")
@click.argument("service")
@AS_JSON
def history_command(service: str, as_json: bool) -> None:
    """SERVICE's deploys, oldest first: number, status, image, when, who, what."""
    from orchestr.cluster.views import render_history

    store, close = _open_store(False, 0, "history")
    try:
        stored = _stored(store, service)
        deploys = store.deploys(service)
        current = stored.deploy_id
    finally:
        close()
    if as_json:
        click.echo(json.dumps([{**d.__dict__, "current": d.id == current} for d in deploys],
                              indent=2, default=str))  # fmt: skip
    else:
        click.echo(render_history(deploys, current))


# -- changes ----------------------------------------------------------------------------------


@click.command(name="scale")
@click.argument("assignments", nargs=-1, required=True, metavar="SERVICE=N...")
@connection_options
@LOCK_WAIT
@AS_JSON
def scale_command(assignments: tuple[str, ...], lock_wait: float, as_json: bool,
                  **flags: Any) -> None:  # fmt: skip
    """Set the replica count of services: `orchestr scale api=6 worker=2`."""
    from dataclasses import replace

    from orchestr.cluster.deploy import Change, converge
    from orchestr.cluster.spec import spec_from_dict

    wanted: dict[str, int] = {}
    for item in assignments:
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise OptionsError(f"bad scale {item!r}", hint="write SERVICE=N, e.g. api=6")
        wanted[name] = int(count)
    store, close = _open_store(True, lock_wait, "scale")
    try:
        changes = []
        for name, count in wanted.items():
            stored = _stored(store, name)
            spec = spec_from_dict(stored.spec)
            if spec.mode == "global":
                raise OptionsError(f"{name} is a global service: one replica per eligible host")
            changes.append(Change(replace(spec, replicas=count), tuple(stored.hosts),
                                  note=f" (scale to {count})"))  # fmt: skip

        async def work(cluster) -> int:  # noqa: ANN001
            done = await converge(cluster, changes)
            _print_published(done)
            return max(_print_report(report, as_json) for report in done.reports)

        code = _with_cluster(flags, store, work)
    finally:
        close()
    sys.exit(code)


@click.command(name="rollback")
@click.argument("service")
@click.option("--to", "number", type=int, help="The deploy number to go back to "
              "(default: the last good one before the current).")  # fmt: skip
@connection_options
@LOCK_WAIT
@AS_JSON
def rollback_command(service: str, number: int | None, lock_wait: float, as_json: bool,
                     **flags: Any) -> None:  # fmt: skip
    """Deploy an earlier spec of SERVICE again (rolling, health-gated, as any update)."""
    from orchestr.cluster.deploy import Change, converge
    from orchestr.cluster.spec import spec_from_dict

    store, close = _open_store(True, lock_wait, "rollback")
    try:
        stored = _stored(store, service)
        if number is None:
            current = store.deploy_by_id(stored.deploy_id) if stored.deploy_id else None
            target = store.last_good_deploy(service, before=current.number if current else None)
            if target is None:
                raise OptionsError(f"{service} has no earlier good deploy to roll back to",
                                   hint=f"see `orchestr history {service}`")  # fmt: skip
        else:
            target = store.deploy(service, number)
            if target is None:
                raise OptionsError(f"{service} has no deploy #{number}",
                                   hint=f"see `orchestr history {service}`")  # fmt: skip
        spec = spec_from_dict(target.spec)
        if not as_json:
            click.echo(f"{service}: rolling back to deploy #{target.number} ({spec.image})")

        change = Change(spec, tuple(stored.hosts), note=f" (rollback to #{target.number})",
                        rollback=False)  # fmt: skip

        async def work(cluster) -> int:  # noqa: ANN001
            done = await converge(cluster, [change])
            _print_published(done)
            return _print_report(done.reports[0], as_json)

        code = _with_cluster(flags, store, work)
    finally:
        close()
    sys.exit(code)


@click.command(name="drain")
@click.argument("host")
@click.option("--reason", default="drained", show_default=True, help="Recorded with the drain.")
@click.option("-C", "--check", is_flag=True, help="Show what would move; change nothing.")
@connection_options
@LOCK_WAIT
@AS_JSON
def drain_command(host: str, reason: str, check: bool, lock_wait: float, as_json: bool,
                  **flags: Any) -> None:  # fmt: skip
    """Mark HOST unschedulable and move its replicas away. Refuses, changing nothing, when the
    other hosts cannot take them (exit 2); with --check, only says what would move."""
    sys.exit(_set_drain(host, True, reason, lock_wait, as_json, flags, check=check))


@click.command(name="undrain")
@click.argument("host")
@connection_options
@LOCK_WAIT
@AS_JSON
def undrain_command(host: str, lock_wait: float, as_json: bool, **flags: Any) -> None:
    """Make HOST schedulable again. Replicas are not moved back (as Swarm: new placements and
    global services use it)."""
    sys.exit(_set_drain(host, False, "", lock_wait, as_json, flags))


def _set_drain(host: str, drain: bool, reason: str, lock_wait: float, as_json: bool,
               flags: dict[str, Any], check: bool = False) -> int:  # fmt: skip
    from orchestr.cluster.deploy import Change, converge
    from orchestr.cluster.spec import spec_from_dict
    from orchestr.targets import resolve_targets

    # The host must be one the inventory knows: a typo must not be recorded as drained.
    known = resolve_targets("all", flags).inventory.hosts
    if host not in known:
        raise OptionsError(f"{host!r} is not in the inventory", hint="check -i and the name")
    store, close = _open_store(True, lock_wait, "drain" if drain else "undrain")
    what = "drain" if drain else "undrain"
    try:
        # Every service that may run on the host: its own candidates, never widened.
        changes = [Change(spec_from_dict(s.spec), tuple(s.hosts), note=f" ({what} {host})")
                   for s in store.services() if host in s.hosts]  # fmt: skip

        async def work(cluster) -> int:  # noqa: ANN001
            if drain:
                # Planned with the host drained before anything changes: refused as a whole
                # when the other hosts cannot take its replicas.
                cluster.drained_extra = {host}
                planned = (await converge(cluster, changes, check=True)).reports
                refusals = [r for report in planned for r in report.plan.unplaced_summary()]
                moves = [line for report in planned for line in report.lines]
                if refusals:
                    message = f"refusing to drain {host}: " + "; ".join(refusals)
                    click.echo(json.dumps({"host": host, "failed": True, "msg": message,
                                           "moves": moves})
                               if as_json else f"ERROR: {message}", err=not as_json)  # fmt: skip
                    return EXIT_HOSTS_FAILED
                if check:
                    click.echo(json.dumps({"host": host, "failed": False, "moves": moves})
                               if as_json else "\n".join([f"  {m}" for m in moves]
                                                         + [f"{host}: can be drained "
                                                            f"({len(moves)} actions)"]))  # fmt: skip
                    return EXIT_OK
            store.set_schedulable(host, not drain, reason)
            store.audit(what, None, f"{host}: {reason}".rstrip(": "))
            code = EXIT_OK
            done = await converge(cluster, changes)
            _print_published(done)
            for report in done.reports:
                code = max(code, _print_report(report, as_json))
            if not as_json:
                click.echo(f"{host}: {'drained' if drain else 'schedulable'}")
            return code

        return _with_cluster(flags, store, work)
    finally:
        close()
