"""`orchestr facts PATTERN`: the minimal facts orchestr gathers, one round trip per host."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from orchestr.adhoc import report
from orchestr.targets import connection_options, resolve_targets, warn


@click.command(name="facts")
@click.argument("pattern")
@connection_options
def facts_command(pattern: str, **flags) -> None:
    """Print each matched host's facts as a JSON line (OS, kernel, CPUs, memory, docker, ports)."""
    targets = resolve_targets(pattern, flags)
    warn(targets.warnings)
    outcomes = asyncio.run(_gather(targets))
    for outcome in outcomes:
        record: dict = {"host": outcome.host, "status": report.status_of(outcome)}
        if outcome.error is not None:
            record["msg"] = report.reason_of(outcome.error)
        else:
            record["facts"] = outcome.value.as_dict()
        click.echo(json.dumps(record))
    sys.exit(report.exit_code(outcomes))


async def _gather(targets):
    from orchestr.transport.pool import Pool

    async with Pool(targets.settings, targets.pool_options) as pool:
        return await pool.each(targets.names, lambda conn: pool.facts(conn.name))
