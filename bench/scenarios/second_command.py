"""second-command: a second command in the same run costs no new SSH handshake.

bench/scripts/pool_rounds.py uses orchestr's API (load_inventory, settings_for, Pool) to run
`true` on every node, one round after another, in one process. Each run is checked: every host
ran it in every round, and `Pool.handshake_count` equals the host count (one connection per
host, however many rounds). The round times of each run are saved in the JSON (`data`).

Contenders (information: there is no peer here):
  one-round    pool_rounds.py --rounds 1: start, connect, run once
  two-rounds   pool_rounds.py --rounds 2: the same plus a second command on the same connections
  exec-twice   two `orchestr exec nodes -- true` processes in a row: a second command as a new
               run, paying start-up and handshakes again
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence

from bench.environment import BENCH_DIR
from bench.harness import Check, Contender
from bench.scenarios import Context, register
from bench.scenarios.common import ANSIBLE_OK, LabScenario, RunCounter
from bench.scripts.pool_rounds import parse_report, problem

SCRIPT = BENCH_DIR / "scripts" / "pool_rounds.py"


def round_figures(reports: Sequence[dict]) -> dict[str, object]:
    """Medians over runs of each round's time, and the handshake counts seen."""
    if not reports:
        return {}
    rounds = len(reports[0]["round_seconds"])
    medians = [statistics.median(r["round_seconds"][i] for r in reports) for i in range(rounds)]
    return {
        "runs": len(reports),
        "round_median_seconds": [round(m, 4) for m in medians],
        "handshakes": sorted({r["handshakes"] for r in reports}),
        "hosts": sorted({r["hosts"] for r in reports}),
    }


@register
class SecondCommand(LabScenario):
    name = "second-command"
    summary = "orchestr API: a 2nd command on every node reuses the connections (no handshake)"
    default_hosts = 10
    baseline = "one-round"
    floor = None
    group = "nodes"

    def contenders(self, ctx: Context) -> list[Contender]:
        self.counters = {rounds: RunCounter(ctx.warmup) for rounds in (1, 2)}

        def api(rounds: int) -> Contender:
            counter = self.counters[rounds]
            argv = [sys.executable, str(SCRIPT), "-i", str(self.inventory_path),
                    "--pattern", self.group, "--rounds", str(rounds), "--", "true"]  # fmt: skip
            name = "one-round" if rounds == 1 else "two-rounds"
            return Contender(name, argv, before=counter.started,
                             check=check_report(counter, self.count, rounds))  # fmt: skip

        once = shlex.join(self.orchestr_exec_argv("true"))
        twice = Contender(
            "exec-twice",
            ["sh", "-c", f"{once} && {once}"],
            check=check_twice(self.count),
        )
        return [api(1), api(2), twice]

    def teardown(self, ctx: Context) -> None:
        for rounds, counter in getattr(self, "counters", {}).items():
            figures = round_figures(counter.kept)
            ctx.data[f"pool_rounds_{rounds}"] = {**figures, "reports": counter.kept}
            if figures:
                times = ", ".join(f"{s:.3f} s" for s in figures["round_median_seconds"])
                ctx.notes.append(
                    f"pool_rounds.py --rounds {rounds}: median round times {times}; "
                    f"handshakes {figures['handshakes']} for {figures['hosts']} hosts "
                    f"({figures['runs']} measured runs)"
                )
        super().teardown(ctx)


def check_report(counter: RunCounter, hosts: int, rounds: int) -> Check:
    """The script's JSON report is right (see pool_rounds.problem); measured ones are kept."""

    def check(done: subprocess.CompletedProcess) -> str | None:
        try:
            report = parse_report(done.stdout)
        except ValueError as error:
            return str(error)
        wrong = problem(report, hosts, rounds)
        if wrong is None:
            counter.keep(report)
        return wrong

    return check


def check_twice(hosts: int) -> Check:
    """Both `orchestr exec` runs printed a success block for every host: each host twice."""

    def check(done: subprocess.CompletedProcess) -> str | None:
        per_host = Counter(ANSIBLE_OK.findall(done.stdout))
        if len(per_host) != hosts or set(per_host.values()) != {2}:
            total = sum(per_host.values())
            return (
                f"{total} success blocks for {len(per_host)} hosts, expected 2 for each of {hosts}"
            )
        return None

    return check
