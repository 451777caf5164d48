"""python -m bench NAME [--runs 5] [--warmup 1] [--hosts N] | python -m bench --list

Runs a scenario's contenders alternately (one round = each contender once), a few warm-up
rounds first, then prints medians and ratios and saves bench/results/<scenario>-<UTC>.json.
Exit status: 0 when every contender succeeded in every run, 1 when one failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import environment, harness, scenarios


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="orchestr benchmark harness (see bench/README.md)"
    )
    parser.add_argument("scenario", nargs="?", help="scenario name (--list shows them)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--hosts", type=int, help="hosts in the lab (default: per scenario)")
    parser.add_argument(
        "--only", action="append", metavar="CONTENDER", help="run only these (repeatable)"
    )
    parser.add_argument(
        "--keep-lab", action="store_true", help="leave a lab this run started up afterwards"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds one command may take (600)"
    )
    parser.add_argument("--results-dir", type=Path, default=environment.RESULTS_DIR)
    parser.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print a saved result as a Markdown table"
    )
    args = parser.parse_args(argv)
    if not args.list and not args.scenario and not args.report:
        parser.error("name a scenario, or --list")
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    if args.hosts is not None and args.hosts < 1:
        parser.error("--hosts must be >= 1")
    return args


def _load(averages: list[float]) -> str:
    return f"{averages[0]:.2f}" if averages else "?"


def list_scenarios() -> str:
    found = scenarios.load_all()
    width = max((len(n) for n in found), default=0)
    return "\n".join(
        f"{name:<{width}}  {cls.summary} (hosts: {cls.default_hosts})"
        for name, cls in found.items()
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_scenarios())
        return 0
    if args.report:
        print(harness.markdown_table(json.loads(args.report.read_text())))
        return 0
    try:
        scenario_cls = scenarios.get(args.scenario)
    except KeyError as error:
        say(str(error.args[0]))
        return 2
    scenario = scenario_cls()
    hosts = args.hosts or scenario_cls.default_hosts
    if scenario_cls.needs_peers:
        environment.ensure_peers(say)

    started = datetime.now(UTC)
    machine = environment.machine()
    with tempfile.TemporaryDirectory(prefix="orchestr-bench-") as workdir:
        ctx = scenarios.Context(
            hosts=hosts, workdir=Path(workdir), keep_lab=args.keep_lab, say=say, warmup=args.warmup
        )
        ctx.versions.update(environment.orchestr_versions())
        say(
            f"scenario {scenario_cls.name}: {hosts} hosts, {args.warmup} warm-up + {args.runs} runs"
        )
        try:
            scenario.setup(ctx)
            contenders = scenario.contenders(ctx)
            if args.only:
                unknown = set(args.only) - {c.name for c in contenders}
                if unknown:
                    say(f"no contender {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(c.name for c in contenders)}")  # fmt: skip
                    return 2
                contenders = [c for c in contenders if c.name in args.only]
            for contender in contenders:
                say(f"  {contender.name}: {contender.describe()}")
            warm, measured = harness.run_rounds(
                contenders,
                runs=args.runs,
                warmup=args.warmup,
                rotate=scenario_cls.rotate,
                cwd=ctx.workdir,
                timeout=args.timeout,
                say=say,
            )
        finally:
            scenario.teardown(ctx)
    finished = datetime.now(UTC)
    machine["load_average_end"] = environment.load_average()

    record = harness.build_record(
        scenario=scenario_cls.name,
        started=started,
        finished=finished,
        options={"runs": args.runs, "warmup": args.warmup, "hosts": hosts, "only": args.only},
        machine=machine,
        versions=ctx.versions,
        contenders=contenders,
        warmup=warm,
        measured=measured,
        baseline=scenario_cls.baseline,
        floor=scenario_cls.floor,
        notes=ctx.notes,
        data=ctx.data,
    )
    summaries = {c.name: harness.summarize(measured[c.name]) for c in contenders}
    print(f"\n{scenario_cls.name}: {hosts} hosts, median of {args.runs} runs "
          f"(after {args.warmup} warm-up), {machine['cpu_count']} CPUs, load average "
          f"{_load(machine['load_average_start'])} -> {_load(machine['load_average_end'])}")  # fmt: skip
    print(
        harness.format_table(summaries, record["ratios"], scenario_cls.baseline, scenario_cls.floor)
    )
    for note in ctx.notes:
        print(f"note: {note}")
    if not args.no_save:
        path = harness.result_path(args.results_dir, scenario_cls.name, started)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"saved {path}")
    failed = [name for name, s in summaries.items() if s.failures]
    if failed:
        say(f"FAILED: {', '.join(failed)} (see the errors above and in the JSON)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
