"""`orchestr lab ...`: a local set of real hosts (containers with sshd and dockerd) to try and test on."""

from __future__ import annotations

import asyncio
import time

import click

from orchestr.lab import lab as lab_ops
from orchestr.lab.images import DEMO_IMAGE

name_option = click.option(
    "--name", default="default", show_default=True, envvar="ORCHESTR_LAB", help="Which lab."
)


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def lab() -> None:
    """A local lab of real hosts: containers running sshd and their own dockerd on 198.18.0.0/24."""


@lab.command()
@click.option("--hosts", "nodes", type=int, default=3, show_default=True, help="Worker hosts.")
@click.option("--lb", is_flag=True, help="Add a load-balancer host (group lb).")
@name_option
def up(nodes: int, lb: bool, name: str) -> None:
    """Start the lab, or bring a running one to this shape (idempotent)."""
    started = time.monotonic()
    hosts = asyncio.run(lab_ops.up(name, nodes, lb, _say))
    for host in hosts:
        zone = f"  zone={host.zone}" if host.zone else ""
        click.echo(f"{host.name:<8} {host.address:<14} {host.role}{zone}")
    _say(f"lab {name!r}: {len(hosts)} hosts ready in {time.monotonic() - started:.1f} s")
    click.echo(lab_ops.LabPaths.of(name).inventory)


@lab.command()
@name_option
def down(name: str) -> None:
    """Remove the lab and everything it left: containers, volumes, keys, network."""
    started = time.monotonic()
    removed = asyncio.run(lab_ops.down(name, _say))
    _say(f"lab {name!r}: {removed} hosts removed in {time.monotonic() - started:.1f} s")


@lab.command()
@name_option
def inventory(name: str) -> None:
    """Print the path of the lab's inventory file (last line of the output)."""
    asyncio.run(lab_ops.require_lab(name))
    click.echo(lab_ops.LabPaths.of(name).inventory)


@lab.command()
@name_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per host.")
def status(name: str, as_json: bool) -> None:
    """Table of the lab's hosts: address, state, ssh ok, docker ok, running containers."""
    rows = asyncio.run(lab_ops.status(name))
    if as_json:
        import json
        from dataclasses import asdict

        for row in rows:
            click.echo(json.dumps(asdict(row)))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"lab {name!r}")
        for column in ("host", "address", "role", "zone", "state", "ssh", "docker", "containers"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.name, row.address, row.role, row.zone or "-", row.state,
                _mark(row.ssh_ok), _mark(row.docker_ok),
                "-" if row.containers is None else str(row.containers),
            )  # fmt: skip
        Console().print(table)
        for row in rows:
            if row.detail:
                _say(f"{row.name}: {row.detail}")
    down_count = sum(1 for r in rows if not (r.ssh_ok and r.docker_ok))
    if down_count:
        raise SystemExit(4)  # Ansible's "hosts unreachable"


def _mark(ok: bool) -> str:
    return "ok" if ok else "FAIL"


def _fault_command(kind: str, help_text: str) -> None:
    @lab.command(name=kind, help=help_text)
    @click.argument("host")
    @name_option
    def command(host: str, name: str) -> None:
        click.echo(asyncio.run(lab_ops.fault(name, host, kind)))


for _kind, _help in (
    ("kill", "Kill a host: it is gone (stopped) until `lab restart` or `lab up`."),
    ("pause", "Freeze a host and its containers: SSH and traffic to it hang."),
    ("resume", "Thaw a paused host."),
    ("partition", "Cut a host off the lab network (controller and other hosts); it keeps running."),
    ("heal", "Reconnect a partitioned host."),
    ("restart", "Restart a host (also starts a killed one); its containers come back per policy."),
):
    _fault_command(_kind, _help)


@lab.command(name="load-image")
@click.argument("image", default=DEMO_IMAGE)
@click.argument("hosts", nargs=-1)
@name_option
def load_image(image: str, hosts: tuple[str, ...], name: str) -> None:
    """Copy a local IMAGE into lab HOSTS (all when none given), without a registry."""
    loaded = asyncio.run(lab_ops.load_image(name, image, list(hosts)))
    click.echo(f"{image} loaded on {', '.join(loaded)}")


@lab.command(name="ssh", context_settings={"ignore_unknown_options": True})
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@name_option
def ssh(host: str, command: tuple[str, ...], name: str) -> None:
    """Open a shell on a lab HOST, or run COMMAND there (OpenSSH, the lab's key and known_hosts)."""
    import os

    argv = asyncio.run(lab_ops.ssh_argv(name, host, list(command)))
    os.execvp(argv[0], argv)


@lab.command()
@name_option
@click.option("--role", type=click.Choice(["node", "lb"]), help="Only hosts of this role.")
def addresses(name: str, role: str | None) -> None:
    """Print the lab's host addresses, one a line (for scripts)."""
    for item in asyncio.run(lab_ops.require_lab(name)):
        if role is None or item.host.role == role:
            click.echo(item.host.address)
