"""Run one command on every matched host, several rounds in one process, over one orchestr Pool.

    python bench/scripts/pool_rounds.py -i INVENTORY [--pattern nodes] [--rounds 2] [-- true]

The first round opens the connections (one SSH handshake per host); later rounds reuse them.
Prints one JSON object on stdout: hosts, handshakes (`Pool.handshake_count`), and per round its
wall time and how many hosts ran the command with exit status 0. Exit 0 when every host did in
every round and the pool opened exactly one connection per host, else 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def run_rounds(inventory: str, pattern: str, command: str, rounds: int) -> dict:
    from orchestr.inventory import load_inventory
    from orchestr.transport.command import Command
    from orchestr.transport.pool import Pool
    from orchestr.transport.settings import settings_for

    hosts = load_inventory([inventory]).select(pattern)
    settings = [settings_for(host.name, host.vars) for host in hosts]
    names = [s.name for s in settings]
    remote = Command.shell(command)

    async def work(conn):  # noqa: ANN001 - an orchestr Connection
        return await conn.run(remote)

    seconds: list[float] = []
    ok: list[int] = []
    errors: list[str] = []
    async with Pool(settings) as pool:
        for _ in range(rounds):
            started = time.perf_counter()
            outcomes = await pool.each(names, work)
            seconds.append(time.perf_counter() - started)
            good = [o for o in outcomes if o.error is None and o.value.ok]
            ok.append(len(good))
            errors.extend(f"{o.host}: {o.error or o.value.stderr.strip()}"
                          for o in outcomes if o not in good)  # fmt: skip
        handshakes = pool.handshake_count
    return {"hosts": len(names), "handshakes": handshakes, "round_seconds": seconds,
            "round_ok": ok, "errors": errors[:10]}  # fmt: skip


def problem(report: dict, hosts: int, rounds: int) -> str | None:
    """Why a report is wrong (None when right): every host ran the command in every round, and
    the pool opened exactly one connection per host in all."""
    if report.get("hosts") != hosts:
        return f"{report.get('hosts')} hosts matched, expected {hosts}"
    if len(report.get("round_seconds", ())) != rounds:
        return f"{len(report.get('round_seconds', ()))} rounds reported, expected {rounds}"
    if any(count != hosts for count in report.get("round_ok", ())):
        return f"hosts ok per round {report.get('round_ok')}, expected {hosts} each"
    if report.get("handshakes") != hosts:
        return f"{report.get('handshakes')} handshakes for {hosts} hosts"
    return None


def parse_report(stdout: str) -> dict:
    """The JSON object the script printed (its last line starting with '{')."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError("no JSON report on stdout")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    parser.add_argument("--pattern", default="nodes")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("command", nargs="*", default=["true"])
    args = parser.parse_args(argv)
    command = " ".join(args.command) or "true"
    report = asyncio.run(run_rounds(args.inventory, args.pattern, command, args.rounds))
    print(json.dumps(report))
    return 0 if problem(report, report["hosts"], args.rounds) is None else 2


if __name__ == "__main__":
    sys.exit(main())
