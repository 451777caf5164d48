"""Timing, summaries, the results table and the JSON record: the parts of the benchmark that do
not care what is being measured.

Pure functions (summarize, ratios, format_table, build_record, result_path) are unit-tested in
bench/tests; `run_rounds` is the only part that runs anything.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

Check = Callable[[subprocess.CompletedProcess], str | None]


@dataclass
class Contender:
    """One way of doing the scenario's work: a command line, or an async callable.

    `check` looks at a finished command's output and returns why it is wrong (None when right);
    `before`/`after` run around each timed run, outside the timing (fresh temp dirs, cleanup).
    """

    name: str
    argv: Sequence[str] | None = None
    func: Callable[[], Awaitable[object]] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    check: Check | None = None
    before: Callable[[], Mapping[str, str] | None] | None = None
    after: Callable[[], None] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if (self.argv is None) == (self.func is None):
            raise ValueError(f"contender {self.name!r}: give exactly one of argv and func")

    def describe(self) -> str:
        if self.argv is not None:
            return " ".join(_quote(a) for a in self.argv)
        return f"<in-process {getattr(self.func, '__qualname__', 'callable')}>"


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


@dataclass(frozen=True)
class Outcome:
    """One timed run of one contender."""

    seconds: float
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class Summary:
    runs: int
    failures: int
    median: float | None
    min: float | None
    max: float | None


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    """Median, min and max of the successful runs; failed runs are counted, never timed."""
    times = [o.seconds for o in outcomes if o.ok]
    failures = sum(1 for o in outcomes if not o.ok)
    if not times:
        return Summary(len(outcomes), failures, None, None, None)
    return Summary(len(outcomes), failures, statistics.median(times), min(times), max(times))


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


def ratios(
    medians: Mapping[str, float | None], baseline: str | None, floor: str | None
) -> dict[str, dict[str, float | None]]:
    """Each contender's median over the baseline's (orchestr) and over the floor's (bare)."""
    base = medians.get(baseline) if baseline else None
    bottom = medians.get(floor) if floor else None
    return {
        name: {"vs_baseline": ratio(median, base), "vs_floor": ratio(median, bottom)}
        for name, median in medians.items()
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(
    summaries: Mapping[str, Summary],
    rel: Mapping[str, Mapping[str, float | None]],
    baseline: str | None,
    floor: str | None,
) -> str:
    """Plain-text table, one row per contender in the given order."""
    header = [
        "contender",
        "median s",
        "min s",
        "max s",
        "runs",
        f"vs {baseline or 'baseline'}",
        f"vs {floor or 'floor'}",
    ]
    rows = [header]
    for name, s in summaries.items():
        runs = f"{s.runs - s.failures}/{s.runs}"
        if s.failures:
            runs += " FAIL"
        rows.append(
            [
                name,
                _seconds(s.median),
                _seconds(s.min),
                _seconds(s.max),
                runs,
                _times(rel.get(name, {}).get("vs_baseline")),
                _times(rel.get(name, {}).get("vs_floor")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def utc_stamp(moment: datetime) -> str:
    """Compact UTC timestamp for file names: 20250101T120000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def result_path(results_dir: Path, scenario: str, moment: datetime) -> Path:
    return results_dir / f"{scenario}-{utc_stamp(moment)}.json"


def build_record(
    *,
    scenario: str,
    started: datetime,
    finished: datetime,
    options: Mapping[str, object],
    machine: Mapping[str, object],
    versions: Mapping[str, object],
    contenders: Sequence[Contender],
    warmup: Mapping[str, Sequence[Outcome]],
    measured: Mapping[str, Sequence[Outcome]],
    baseline: str | None,
    floor: str | None,
    notes: Sequence[str] = (),
    data: Mapping[str, object] | None = None,
) -> dict:
    """Everything a later reader needs to compare two runs, as JSON-ready data."""
    summaries = {c.name: summarize(measured.get(c.name, ())) for c in contenders}
    medians = {name: s.median for name, s in summaries.items()}
    return {
        "scenario": scenario,
        "started_utc": started.astimezone(UTC).isoformat(),
        "finished_utc": finished.astimezone(UTC).isoformat(),
        "options": dict(options),
        "machine": dict(machine),
        "versions": dict(versions),
        "baseline": baseline,
        "floor": floor,
        "notes": list(notes),
        "data": dict(data or {}),
        "contenders": {
            c.name: {
                "command": c.describe(),
                "note": c.note,
                "warmup_seconds": [round(o.seconds, 6) for o in warmup.get(c.name, ())],
                "seconds": [round(o.seconds, 6) for o in measured.get(c.name, ())],
                "ok": [o.ok for o in measured.get(c.name, ())],
                "errors": [o.error for o in measured.get(c.name, ()) if not o.ok],
                "median": summaries[c.name].median,
                "min": summaries[c.name].min,
                "max": summaries[c.name].max,
                "failures": summaries[c.name].failures,
            }
            for c in contenders
        },
        "ratios": ratios(medians, baseline, floor),
    }


def round_order(count: int, round_index: int, rotate: bool) -> list[int]:
    """Which contender runs when in one round: all of them, each once; rotated per round so that
    no contender always runs right after the same other one (unless order matters)."""
    if not rotate or count == 0:
        return list(range(count))
    start = round_index % count
    return [(start + i) % count for i in range(count)]


# ---------------------------------------------------------------- running


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def time_once(contender: Contender, *, cwd: Path, timeout: float) -> Outcome:
    """Run a contender once; wall time of the whole process (or of the awaited callable)."""
    extra = dict(contender.env)
    if contender.before is not None:
        extra.update(contender.before() or {})
    try:
        if contender.func is not None:
            started = time.perf_counter()
            try:
                asyncio.run(asyncio.wait_for(contender.func(), timeout))
            except Exception as error:  # a failing contender is reported, not raised
                return Outcome(
                    time.perf_counter() - started, False, f"{type(error).__name__}: {error}"
                )
            return Outcome(time.perf_counter() - started, True)
        env = {**os.environ, **extra}
        started = time.perf_counter()
        try:
            done = subprocess.run(
                list(contender.argv or ()),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Outcome(time.perf_counter() - started, False, f"timed out after {timeout:g} s")
        except OSError as error:
            return Outcome(time.perf_counter() - started, False, f"cannot run: {error}")
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            detail = _tail(done.stderr) or _tail(done.stdout)
            return Outcome(elapsed, False, f"exit {done.returncode}: {detail}")
        if contender.check is not None:
            problem = contender.check(done)
            if problem:
                return Outcome(elapsed, False, f"bad output: {problem}")
        return Outcome(elapsed, True)
    finally:
        if contender.after is not None:
            contender.after()


def run_rounds(
    contenders: Sequence[Contender],
    *,
    runs: int,
    warmup: int,
    rotate: bool,
    cwd: Path,
    timeout: float,
    say: Callable[[str], None],
) -> tuple[dict[str, list[Outcome]], dict[str, list[Outcome]]]:
    """Warm-up rounds, then measured rounds; each round runs every contender once, alternately."""
    warm: dict[str, list[Outcome]] = {c.name: [] for c in contenders}
    measured: dict[str, list[Outcome]] = {c.name: [] for c in contenders}
    total = warmup + runs
    for index in range(total):
        label = (
            f"warm-up {index + 1}/{warmup}"
            if index < warmup
            else f"run {index - warmup + 1}/{runs}"
        )
        target = warm if index < warmup else measured
        for position in round_order(len(contenders), index, rotate):
            contender = contenders[position]
            outcome = time_once(contender, cwd=cwd, timeout=timeout)
            target[contender.name].append(outcome)
            mark = "ok" if outcome.ok else "FAILED"
            say(f"  {label:<12} {contender.name:<16} {outcome.seconds:8.3f} s  {mark}")
            if not outcome.ok:
                say("    " + outcome.error.replace("\n", "\n    "))
    return warm, measured


def markdown_table(record: Mapping) -> str:
    """A saved record as a Markdown table (for bench/README.md)."""
    baseline, floor = record.get("baseline"), record.get("floor")
    lines = [
        f"| contender | median s | min s | max s | ok runs | vs {baseline or 'baseline'} "
        f"| vs {floor or 'floor'} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, data in record["contenders"].items():
        rel = record.get("ratios", {}).get(name, {})
        ok = f"{len(data['seconds']) - data['failures']}/{len(data['seconds'])}"
        lines.append(
            f"| {name} | {_seconds(data['median'])} | {_seconds(data['min'])} "
            f"| {_seconds(data['max'])} | {ok} | {_times(rel.get('vs_baseline'))} "
            f"| {_times(rel.get('vs_floor'))} |"
        )
    return "\n".join(lines)
