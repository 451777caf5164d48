"""`orchestr dns`: render the service discovery zone from the live cluster, and serve a zone
file over UDP and TCP, reloading it when it changes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import Any

import click

from orchestr.errors import EXIT_OK, OptionsError
from orchestr.targets import connection_options


@click.group(name="dns")
def dns() -> None:
    """Service discovery over DNS: A and SRV records of healthy replicas."""


@dns.command(name="render")
@connection_options
@click.option(
    "--zone",
    "zone_name",
    default="orchestr.internal",
    show_default=True,
    help="The zone's origin: services are SERVICE.ZONE, hosts HOST.ZONE.",
)
@click.option(
    "--ttl",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Seconds resolvers may cache a record or a negative answer.",
)
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False),
    help="Zone template (default: templates/zone.j2).",
)
@click.option(
    "--nameserver",
    default="127.0.0.1",
    show_default=True,
    help="Address of the zone's NS record: where `orchestr dns serve` is reached.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the zone here (atomically; the serial is kept when nothing changed). "
                   "Default: stdout.")  # fmt: skip
def render_command(zone_name: str, ttl: int, template: str | None, nameserver: str,
                   output: str | None, **flags: Any) -> None:  # fmt: skip
    """Write the zone of the cluster as it is now, for `dns serve` or any other DNS server."""
    from orchestr.cluster.cli import _open_store, _with_cluster
    from orchestr.discovery.live import current_snapshot
    from orchestr.discovery.snapshot import Snapshot
    from orchestr.discovery.zone import next_zone, write_zone, zone_serial

    snapshots: list[Snapshot] = []

    async def work(cluster) -> int:  # noqa: ANN001
        snapshots.append(await current_snapshot(cluster))
        return EXIT_OK

    store, close = _open_store(False, 0, "dns render")
    try:
        # The cluster logs progress to stdout, where the zone itself may be going.
        with contextlib.redirect_stdout(sys.stderr):
            code = _with_cluster(flags, store, work, publish=False)
    finally:
        close()
    previous = None
    if output and os.path.exists(output):
        try:
            with open(output, encoding="utf-8") as handle:
                previous = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise OptionsError(f"cannot read the previous zone {output}: {error}") from error
    try:
        text = next_zone(snapshots[0], previous, time.time(), zone=zone_name, ttl=ttl,
                         template_path=template, nameserver=nameserver)  # fmt: skip
    except ValueError as error:
        raise OptionsError(str(error)) from error
    if output is None:
        click.echo(text, nl=False)
    elif text == previous:
        click.echo(f"{output}: unchanged, serial {zone_serial(text)}", err=True)
    else:
        try:
            write_zone(output, text)
        except OSError as error:
            raise OptionsError(f"cannot write {output}: {error.strerror or error}") from error
        click.echo(f"{output}: written, serial {zone_serial(text)}", err=True)
    sys.exit(code)


@dns.command(name="serve")
@click.option(
    "--zone-file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The zone to serve (from `orchestr dns render --output`).",
)
@click.option(
    "--listen",
    default="127.0.0.1:5353",
    show_default=True,
    metavar="ADDR:PORT",
    help="Where to answer, on UDP and TCP ([::1]:5353 for IPv6; port 0: any free).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.05),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="How often the zone file is checked for changes.",
)
def serve_command(zone_file: str, listen: str, poll_interval: float) -> None:
    """Answer for the zone in the foreground until SIGTERM or SIGINT, reloading the zone file
    when it changes (a zone that does not load leaves the previous one served)."""
    from orchestr.discovery.dns_server import DnsServer, parse_listen

    address = parse_listen(listen)

    async def run() -> None:
        server = DnsServer(zone_file, address, poll_interval=poll_interval, log=click.echo)
        try:
            await server.start()
        except OSError as error:
            await server.close()
            raise OptionsError(f"cannot listen on {address}: {error.strerror or error}") from error
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        click.echo(f"listening on {address.host}:{server.port} (udp, tcp)")
        try:
            await stop.wait()
        finally:
            await server.close()
        click.echo("stopped")

    asyncio.run(run())
