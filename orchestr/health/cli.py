"""`orchestr sweep` (one pass, for cron), `orchestr watch` (a loop over open connections),
`orchestr cron` (the crontab line and systemd units for the sweep), `orchestr events`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
import time
from typing import Any

import click

from orchestr.errors import EXIT_OK, OptionsError, OrchestrError
from orchestr.targets import connection_options, inventory_given, warn


def sweep_options(command):  # noqa: ANN001, ANN201
    decorators = [
        click.option("--report-only", is_flag=True, help="Judge and report; change nothing."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object per sweep."),
        click.option("--metrics-file", metavar="PATH",
                     help="Write Prometheus metrics (node_exporter textfile format) here."),
        click.option("--host-fall", type=click.IntRange(1), default=2, show_default=True,
                     help="Sweeps a host may miss before it is declared down."),
        click.option("--grace", type=float, default=10.0, show_default=True,
                     help="Seconds a host may stay unreachable before it is declared down."),
        click.option("--restart-limit", type=click.IntRange(0), default=3, show_default=True,
                     help="In-place restarts of a failing replica before it is moved."),
        click.option("--zone-file", metavar="PATH",
                     help="Keep this DNS zone file up to date (default $ORCHESTR_ZONE_FILE)."),
        click.option("--zone", default="orchestr.internal", show_default=True,
                     help="The DNS zone's name."),
        click.option("--lb", "lb_pattern", default="lb", show_default=True,
                     help="Inventory pattern of the HAProxy hosts kept up to date."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        command = decorator(command)
    return connection_options(command)


def _options(flags: dict[str, Any], observe_timeout: float):  # noqa: ANN202
    from orchestr.health.sweep import SweepOptions

    return SweepOptions(report_only=flags["report_only"], host_fall=flags["host_fall"],
                        grace=flags["grace"], restart_limit=flags["restart_limit"],
                        observe_timeout=observe_timeout)  # fmt: skip


def _print(report, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        click.echo(json.dumps(report.as_data()))
        return
    stamp = time.strftime("%H:%M:%S", time.localtime(report.started))
    services = ", ".join(f"{n} {c['healthy']}/{c['desired']}" for n, c in report.services.items())
    down = [h for h, s in report.hosts.items() if s != "up"]
    verdict = report.verdict
    click.echo(f"{stamp} sweep {verdict} in {report.duration:.2f}s: {services or 'no services'}"
               + (f"; hosts not up: {', '.join(h + ' ' + report.hosts[h] for h in down)}"
                  if down else ""))  # fmt: skip
    for line in [*report.planned, *(a.text() for a in report.actions)]:
        click.echo(f"  {line}")
    for line in report.problems:
        click.echo(f"  problem: {line}")


def _setup(flags: dict[str, Any]):  # noqa: ANN202
    """The store and the inventory's hosts (None when no service is stored: nothing to do)."""
    from orchestr.store.store import Store, default_store_path
    from orchestr.targets import resolve_targets

    store = Store.open(default_store_path())
    # A store never written to may be a lost one: the sweep rebuilds it from the labels on the
    # inventory's hosts (cluster/recover.py). Else no service means nothing to do.
    lost = not store.audit_log(limit=1) and inventory_given(flags)
    if not store.services() and not lost:
        return store, None
    if flags.get("timeout") is None:
        flags = {**flags, "timeout": 3.0}  # a sweep must not wait 10 s for a dead host
    targets = resolve_targets("all", flags)
    warn([w for w in targets.warnings if "No hosts matched" not in w])
    return store, targets


def _cluster(pool, store, targets, flags: dict[str, Any], log):  # noqa: ANN001, ANN202
    """The cluster handle of a sweep: its world from the store, publishing to HAProxy on the
    LB hosts and the DNS zone file (nowhere with --report-only)."""
    from orchestr.cluster.world import Cluster
    from orchestr.discovery.publish import publisher_for
    from orchestr.store.store import command_line

    publisher = None if flags["report_only"] else publisher_for(
        targets.inventory, lb_pattern=flags["lb_pattern"], zone_file=flags.get("zone_file"),
        zone=flags["zone"])  # fmt: skip
    return Cluster(pool, targets.inventory, store=store, publisher=publisher,
                   command=command_line(), log=log)  # fmt: skip


@click.command(name="sweep")
@sweep_options
def sweep_command(as_json: bool, **flags: Any) -> None:
    """One health sweep (made for cron): exit 0 healthy, 1 healed something, 2 degraded (could
    not heal, report-only work left, a host not up or a service short), 3 an error. Skips cleanly when another sweep or apply holds the store."""
    from orchestr.store.lock import LockHeld, StoreLock
    from orchestr.store.store import command_line, default_store_path

    lock = StoreLock(default_store_path())
    try:
        lock.acquire("sweep", command_line(), wait=0.0)
    except LockHeld as held:
        click.echo(f"sweep skipped: {held.one_line()}", err=True)
        sys.exit(EXIT_OK)
    try:
        store, targets = _setup(flags)
        if targets is None:
            click.echo("no services in the store: nothing to sweep")
            sys.exit(EXIT_OK)
        report = asyncio.run(_sweep_once(store, targets, flags, as_json))
    except OrchestrError as error:  # the sweep could not judge the cluster: not "healed"
        from orchestr.health.sweep import EXIT_SWEEP_ERROR

        error.exit_code = EXIT_SWEEP_ERROR
        raise
    finally:
        lock.release()
    sys.exit(report.exit_code)


async def _sweep_once(store, targets, flags, as_json: bool):  # noqa: ANN001
    from orchestr.health.sweep import Sweeper, write_metrics
    from orchestr.transport.pool import Pool

    log = (lambda line: None) if as_json else (lambda line: click.echo(f"  {line}", err=True))
    async with Pool(targets.settings, targets.pool_options) as pool:
        cluster = _cluster(pool, store, targets, flags, log)
        sweeper = Sweeper(cluster, _options(flags, observe_timeout=5.0), log)
        report = await sweeper.sweep()
    _print(report, as_json)
    if flags.get("metrics_file"):
        write_metrics(flags["metrics_file"], report)
    return report


@click.command(name="watch")
@click.option("--interval", default="2s", show_default=True, help="Time between sweeps.")
@click.option("--count", type=int, default=0, help="Stop after this many sweeps (0: never).")
@sweep_options
def watch_command(interval: str, count: int, as_json: bool, **flags: Any) -> None:
    """Sweep again and again over connections kept open: an unchanged cluster costs about one
    round trip per host per sweep. Each sweep takes the store's lock, and skips while an apply
    holds it."""
    from orchestr.cluster.spec import SpecError, _seconds

    try:
        every = _seconds(interval, "--interval")
    except SpecError as error:
        raise OptionsError(str(error), hint="e.g. --interval 2s, 500ms, 1m") from None
    if flags.get("timeout") is None:
        # A dead host costs a sweep this much; a slow one must not be taken for dead.
        flags = {**flags, "timeout": max(2.0, 2 * every)}
    store, targets = _setup(flags)
    if targets is None:
        raise OptionsError("no services in the store: nothing to watch",
                           hint="apply a playbook with a service task first")  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_watch(store, targets, flags, every, count, as_json))
    sys.exit(EXIT_OK)


async def _watch(store, targets, flags, every: float, count: int, as_json: bool) -> None:  # noqa: ANN001
    from orchestr.health.sweep import Sweeper, write_metrics
    from orchestr.store.lock import LockHeld, StoreLock
    from orchestr.store.store import command_line, default_store_path
    from orchestr.transport.pool import Pool

    log = (lambda line: None) if as_json else (lambda line: click.echo(f"  {line}"))
    lock = StoreLock(default_store_path())
    done = 0
    async with Pool(targets.settings, targets.pool_options) as pool:
        cluster = _cluster(pool, store, targets, flags, log)
        # A dead host holds a sweep up this long at most; a slow one is not taken for dead.
        sweeper = Sweeper(cluster, _options(flags, observe_timeout=max(2.0, 2 * every)), log)
        while not count or done < count:
            started = time.monotonic()
            try:
                lock.acquire("watch", command_line(), wait=0.0)
            except LockHeld as held:
                click.echo(f"sweep skipped: {held.one_line()}", err=True)
            else:
                try:
                    report = await sweeper.sweep()
                finally:
                    lock.release()
                _print(report, as_json)
                if flags.get("metrics_file"):
                    write_metrics(flags["metrics_file"], report)
                for host, seen in cluster.observations.items():
                    if isinstance(seen, Exception):
                        pool.forget(host)  # try a new connection next time
            done += 1
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


@click.command(name="cron")
@click.option(
    "--every",
    default=1,
    type=click.IntRange(1, 59),
    show_default=True,
    help="Minutes between sweeps.",
)
@click.option("-i", "--inventory", "inventory", metavar="SRC", help="Inventory for the sweep.")
@click.option("--extra", default="", help="More arguments for `orchestr sweep`.")
def cron_command(every: int, inventory: str | None, extra: str) -> None:
    """Print a crontab line, and a systemd timer + service pair, that run the sweep."""
    import os

    exe = shlex.quote(sys.argv[0] if os.path.isabs(sys.argv[0]) else
                      os.path.abspath(sys.argv[0]))  # fmt: skip
    args = ["sweep"]
    if inventory:
        args += ["-i", os.path.abspath(inventory)]
    if "--metrics-file" not in extra:  # the caller's own --metrics-file wins
        args += ["--metrics-file", "/var/lib/node_exporter/textfile/orchestr.prom"]
    line = " ".join([exe, *map(shlex.quote, args)] + ([extra] if extra else []))
    # What this shell's orchestr would use, so the cron job sweeps the same cluster.
    names = ("ORCHESTR_STORE", "ORCHESTR_STATE_DIR", "ORCHESTR_ZONE_FILE")
    if not inventory:
        names += ("ORCHESTR_INVENTORY",)
    carried = {n: os.environ[n] for n in names if os.environ.get(n)}
    env = "".join(f"{n}={shlex.quote(v)} " for n, v in carried.items())
    click.echo(
        "# crontab (crontab -e): a sweep every "
        f"{every} minute{'s' if every > 1 else ''}; a running sweep makes the next skip"
    )
    click.echo(f"*/{every} * * * * {env}{line} >>/var/log/orchestr-sweep.log 2>&1"
               if every > 1 else f"* * * * * {env}{line} >>/var/log/orchestr-sweep.log 2>&1")  # fmt: skip
    click.echo("\n# /etc/systemd/system/orchestr-sweep.service")
    click.echo("[Unit]\nDescription=orchestr health sweep\nAfter=network-online.target\n\n"
               "[Service]\nType=oneshot\n" +
               "".join(f"Environment={n}={v}\n" for n, v in carried.items()) +
               f"ExecStart={line}\n# exit 1 means healed, 2 degraded: not a unit failure; "
               "3 (an error) is\nSuccessExitStatus=1 2")  # fmt: skip
    click.echo("\n# /etc/systemd/system/orchestr-sweep.timer")
    click.echo("[Unit]\nDescription=orchestr health sweep timer\n\n[Timer]\n"
               f"OnBootSec=1min\nOnUnitActiveSec={every}min\nAccuracySec=1s\n\n"
               "[Install]\nWantedBy=timers.target")  # fmt: skip
    click.echo("\n# then: systemctl daemon-reload && systemctl enable --now orchestr-sweep.timer")


@click.command(name="events")
@click.option("--since", default=None, help="Only newer events: seconds/minutes/hours ago "
              "(90s, 10m, 2h) or a unix time.")  # fmt: skip
@click.option("-n", "--limit", type=int, default=None, help="At most the last N events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
def events_command(since: str | None, limit: int | None, as_json: bool) -> None:
    """What sweeps saw and did: hosts down/up, replicas unhealthy, restarted, relocated, fenced,
    configuration reloaded; with time and reason."""
    from orchestr.store.store import Store, default_store_path

    after = _since(since) if since else None
    with Store.open(default_store_path()) as store:
        events = store.events(since=after, limit=limit)
    for event in events:
        if as_json:
            click.echo(json.dumps(event.__dict__))
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
            where = " ".join(x for x in (event.host, event.service) if x)
            click.echo(f"{stamp}  {event.kind:<18} {where:<16} {event.detail}")


def _since(text: str) -> float:
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return time.time() - float(text[:-1]) * units[text[-1]]
        return float(text)
    except (ValueError, IndexError):
        raise OptionsError(
            f"bad --since {text!r}", hint="e.g. 90s, 10m, 2h, or a unix time"
        ) from None
