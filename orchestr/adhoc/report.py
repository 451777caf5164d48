"""How an ad-hoc run is shown: Ansible's one-block-per-host lines, JSON lines, recap (pure)."""

from __future__ import annotations

import json

from orchestr.errors import EXIT_HOSTS_FAILED, EXIT_HOSTS_UNREACHABLE, EXIT_OK
from orchestr.transport.base import Result
from orchestr.transport.pool import Outcome


def status_of(outcome: Outcome) -> str:
    if outcome.unreachable:
        return "unreachable"
    if outcome.error is not None:
        return "failed"
    if isinstance(outcome.value, Result) and not outcome.value.ok:
        return "failed"
    return "ok"


def human_block(outcome: Outcome) -> str:
    """As `ansible HOST -m shell` prints it: a header line, then the command's output."""
    status = status_of(outcome)
    if status == "unreachable":
        return f"{outcome.host} | UNREACHABLE! => {reason_of(outcome.error)}"
    if outcome.error is not None:
        return f"{outcome.host} | FAILED! => {reason_of(outcome.error)}"
    result = outcome.value
    assert isinstance(result, Result)
    label = "CHANGED" if result.ok else "FAILED"
    output = (result.stdout + result.stderr).rstrip("\n")
    return f"{outcome.host} | {label} | rc={result.rc} >>" + (f"\n{output}" if output else "")


def json_line(outcome: Outcome) -> str:
    record: dict = {"host": outcome.host, "status": status_of(outcome),
                    "duration": round(outcome.duration, 4)}  # fmt: skip
    if isinstance(outcome.value, Result):
        result = outcome.value
        record.update(rc=result.rc, stdout=result.stdout, stderr=result.stderr)
    if outcome.error is not None:
        record["msg"] = reason_of(outcome.error)
    return json.dumps(record)


def reason_of(error: Exception | None) -> str:
    return getattr(error, "one_line", lambda: str(error))()


def recap(outcomes: list[Outcome], seconds: float) -> str:
    counts = {"ok": 0, "failed": 0, "unreachable": 0}
    for outcome in outcomes:
        counts[status_of(outcome)] += 1
    return (
        f"hosts={len(outcomes)} ok={counts['ok']} failed={counts['failed']} "
        f"unreachable={counts['unreachable']} in {seconds:.2f} s"
    )


def exit_code(outcomes: list[Outcome]) -> int:
    """Ansible's: any unreachable host -> 4, else any failed -> 2, else 0."""
    statuses = {status_of(o) for o in outcomes}
    if "unreachable" in statuses:
        return EXIT_HOSTS_UNREACHABLE
    if "failed" in statuses:
        return EXIT_HOSTS_FAILED
    return EXIT_OK
