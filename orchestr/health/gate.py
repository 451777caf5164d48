"""The health gate of a rollout: new replicas count only once they run, pass their check `rise`
times in a row, and then stay healthy for `monitor` seconds. Every host is polled at once, one
round trip per host per round (container states and all probes in one script)."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from orchestr.cluster.model import Container
from orchestr.cluster.spec_types import HealthSpec
from orchestr.health.checks import HealthState, advance, parse_probe_output, probe_for, probe_script
from orchestr.transport.command import Command
from orchestr.transport.pool import Pool

STATE_MARK = "@@state "
POLL_WITHOUT_CHECK = 0.5  # seconds between looks at a replica that has no health check


@dataclass(frozen=True)
class GateResult:
    ok: bool
    detail: str


@dataclass
class _Watch:
    """One replica's progress through the gate."""

    replica: Container
    health: HealthState | None = None
    running_since: float | None = None
    healthy_since: float | None = None
    last: str = "not looked at yet"
    result: GateResult | None = None


def gate_deadline(health: HealthSpec | None, monitor: float) -> float:
    """How long a replica may take before it has failed: its start period, enough rounds for
    rise (and fall) checks, and the monitor period, with slack for slow starts."""
    if health is None:
        return monitor + 15.0
    rounds = health.rise + health.fall + 1
    return health.start_period + rounds * (health.interval + health.timeout) + monitor + 15.0


def state_script(names: Sequence[str]) -> str:
    fmt = STATE_MARK + "{{.Name}} {{.State.Status}} {{.State.ExitCode}} " \
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"  # fmt: skip
    return f"docker inspect -f {shlex.quote(fmt)} {' '.join(shlex.quote(n) for n in names)}"


def parse_states(text: str) -> dict[str, tuple[str, int, str]]:
    """name -> (status, exit code, first IP address) from state_script's output."""
    found = {}
    for line in text.splitlines():
        if line.startswith(STATE_MARK):
            words = line[len(STATE_MARK) :].split()
            if len(words) >= 3:
                address = words[3] if len(words) > 3 else ""
                found[words[0].lstrip("/")] = (words[1], int(words[2] or 0), address)
    return found


async def wait_until_serving(
    pool: Pool, replicas: Sequence[Container], health: HealthSpec | None, *, monitor: float
) -> dict[str, GateResult]:
    started = time.monotonic()
    deadline = started + gate_deadline(health, monitor)
    by_host: dict[str, list[_Watch]] = {}
    for replica in replicas:
        by_host.setdefault(replica.host, []).append(_Watch(replica))

    async def watch_host(host: str) -> None:
        watches = by_host[host]
        connection = await pool.connection(host)
        while True:
            pending = [w for w in watches if w.result is None]
            if not pending:
                return
            now = time.monotonic()
            if now > deadline:
                for w in pending:
                    waited = round(now - started)
                    w.result = GateResult(False, f"not serving after {waited}s: {w.last}")
                return
            await _look(connection, pending, health, monitor, started)
            if any(w.result is None for w in watches):
                await asyncio.sleep(health.interval if health else POLL_WITHOUT_CHECK)

    outcomes = await pool.each(list(by_host), lambda c: watch_host(c.name))
    for outcome in outcomes:
        if outcome.error is not None:
            for w in by_host[outcome.host]:
                w.result = w.result or GateResult(False, f"host unreachable: {outcome.error}")
    return {w.replica.name: w.result or GateResult(False, w.last)
            for ws in by_host.values() for w in ws}  # fmt: skip


async def _look(
    connection, watches: list[_Watch], health: HealthSpec | None, monitor: float, started: float
) -> None:  # noqa: ANN001
    """One round on one host: states of every watched replica, then probes of those running."""
    probes = []
    if health is not None:
        for w in watches:
            probe = probe_for(w.replica, health)
            if probe is not None:
                probes.append(probe)
    script = state_script([w.replica.name for w in watches])
    if probes:
        script += "\n" + probe_script(probes)
    timeout = (health.timeout if health else 0) + 30
    result = await connection.run(Command.shell(script), timeout=timeout)
    states = parse_states(result.stdout)
    answers = parse_probe_output(result.stdout, [p.key for p in probes]) if probes else {}
    now = time.monotonic()
    for w in watches:
        status, code, address = states.get(w.replica.name, ("missing", 0, ""))
        if address and not w.replica.address:
            w.replica = replace(w.replica, address=address)  # for probes of unpublished ports
        if status != "running":
            detail = f"exited with code {code}" if status == "exited" else status
            w.result = GateResult(False, f"container {detail}")
            continue
        if w.running_since is None:
            w.running_since = now
        if health is None:
            w.last = "running"
            if now - w.running_since >= monitor:
                w.result = GateResult(True, "running")
            continue
        answer = answers.get(w.replica.name)
        if answer is None:
            w.last = "waiting for its address"
            continue
        w.last = answer.detail
        w.health = advance(w.health, answer.ok, now, health, started)
        if w.health.status == "healthy":
            w.healthy_since = w.healthy_since or now
            if now - w.healthy_since >= monitor:
                w.result = GateResult(True, f"healthy ({answer.detail})")
        elif w.health.status == "unhealthy":
            w.result = GateResult(False, f"health check failing: {answer.detail}")
        else:
            w.healthy_since = None
