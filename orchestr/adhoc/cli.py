"""`orchestr exec PATTERN -- COMMAND...`: run a command on every matched host in parallel."""

from __future__ import annotations

import asyncio
import sys
import time

import click

from orchestr.adhoc import report
from orchestr.targets import connection_options, resolve_targets, warn
from orchestr.transport.command import Command


@click.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("pattern")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per host.")
@click.option("--command-timeout", type=click.FloatRange(0.1), default=600, show_default=True,
              help="Seconds a command may run on a host.")  # fmt: skip
def exec_command(pattern: str, command: tuple[str, ...], as_json: bool,
                 command_timeout: float, **flags) -> None:  # fmt: skip
    """Run COMMAND on the hosts matching PATTERN, all at once.

    One word is a shell line (`-- 'docker ps | wc -l'`); several words are an argv, each
    quoted (`-- docker ps --format '{{.Names}}'`). Exit code: 0 all ok, 2 a host failed,
    4 a host was unreachable (as Ansible).
    """
    targets = resolve_targets(pattern, flags)
    warn(targets.warnings)
    remote = Command.shell(command[0]) if len(command) == 1 else Command.argv(*command)
    started = time.monotonic()
    outcomes = asyncio.run(_run(targets, remote, command_timeout, as_json))
    click.echo(report.recap(outcomes, time.monotonic() - started), err=True)
    sys.exit(report.exit_code(outcomes))


async def _run(targets, remote: Command, timeout: float, as_json: bool):
    from orchestr.transport.pool import Pool

    def show(outcome) -> None:
        line = report.json_line(outcome) if as_json else report.human_block(outcome)
        click.echo(line)

    async def work(conn):
        return await conn.run(remote, timeout=timeout)

    async with Pool(targets.settings, targets.pool_options) as pool:
        # Print each host as soon as it is done, as Ansible does; the recap comes last.
        async def one(name: str):
            (outcome,) = await pool.each([name], work)
            show(outcome)
            return outcome

        return list(await asyncio.gather(*(one(n) for n in targets.names)))
