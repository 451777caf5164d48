"""Run a host's health probes over its connection: one script, one round trip, results by key."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from orchestr.health.checks import (
    NO_ANSWER,
    Probe,
    ProbeResult,
    parse_probe_output,
    probe_script,
)
from orchestr.transport.base import Connection
from orchestr.transport.command import Command

# Beyond the slowest probe's own timeout: starting the jobs, the channel's round trip.
MARGIN = 5.0
# sshd hands the command to the login shell as one `-c` argument, and Linux refuses a single
# argument over 128 KiB (MAX_ARG_STRLEN): a host with hundreds of probes gets several scripts,
# run at once on the same connection (still one round trip of latency).
MAX_SCRIPT_CHARS = 100_000


async def run_probes(
    connection: Connection, probes: Sequence[Probe], *, timeout: float | None = None
) -> dict[str, ProbeResult]:
    """Every probe's result by key, all run at once on the host. A probe whose line never came
    back failed with "no answer" (and the script's stderr, if it said anything). Transport
    errors (Unreachable, CommandTimeout) are raised: an unreachable host says nothing about its
    containers' health, and the caller decides what it means."""
    if not probes:
        return {}
    # Snippets round timeouts up to whole seconds (see checks._seconds): so does the limit.
    slowest = max(math.ceil(p.spec.timeout) for p in probes)
    limit = timeout if timeout is not None else slowest + MARGIN
    batches = _batches(probes)
    results = await asyncio.gather(*(_run_batch(connection, b, limit) for b in batches))
    return {key: result for batch in results for key, result in batch.items()}


async def _run_batch(
    connection: Connection, probes: Sequence[Probe], timeout: float
) -> dict[str, ProbeResult]:
    result = await connection.run(Command.shell(probe_script(probes)), timeout=timeout)
    answered = parse_probe_output(result.stdout)
    # A job that printed nothing most likely failed in the shell itself: its stderr says why.
    stderr = result.stderr.strip().splitlines()
    missing = ProbeResult(False, f"{NO_ANSWER}: {stderr[-1]}" if stderr else NO_ANSWER)
    return {probe.key: answered.get(probe.key, missing) for probe in probes}


def _batches(probes: Sequence[Probe]) -> list[list[Probe]]:
    """Probes in order, cut into scripts under MAX_SCRIPT_CHARS each."""
    batches: list[list[Probe]] = [[]]
    size = 0
    for probe in probes:
        cost = len(probe_script([probe]))
        if batches[-1] and size + cost > MAX_SCRIPT_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(probe)
        size += cost
    return batches
