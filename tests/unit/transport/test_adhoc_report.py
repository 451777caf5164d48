"""How an ad-hoc run is shown: Ansible-style blocks, JSON lines, recap, exit codes (pure)."""

from __future__ import annotations

import json

import pytest

from orchestr.adhoc.report import exit_code, human_block, json_line, reason_of, recap, status_of
from orchestr.transport.base import CommandTimeout, Result, Unreachable
from orchestr.transport.pool import Outcome

OK = Outcome("node1", value=Result(0, "node1\n", "", 0.01), duration=0.12345)
FAILED = Outcome("node2", value=Result(3, "", "boom\n", 0.02), duration=0.5)
UNREACHABLE = Outcome(
    "node3", error=Unreachable("10.0.0.3:22: connect timed out after 2 s", hint="is it up?"),
    duration=2.0,
)  # fmt: skip
TIMED_OUT = Outcome("node4", error=CommandTimeout("command did not finish within 5 s"))
CRASHED = Outcome("node5", error=RuntimeError("docker load failed: no space"))


def test_statuses():
    assert [status_of(o) for o in (OK, FAILED, UNREACHABLE, TIMED_OUT, CRASHED)] == [
        "ok", "failed", "unreachable", "failed", "failed"
    ]  # fmt: skip
    assert status_of(Outcome("h", value="not a result")) == "ok"


def test_human_blocks():
    assert human_block(OK) == "node1 | CHANGED | rc=0 >>\nnode1"
    assert human_block(FAILED) == "node2 | FAILED | rc=3 >>\nboom"
    assert human_block(Outcome("h", value=Result(0, "", "", 0))) == "h | CHANGED | rc=0 >>"
    assert human_block(Outcome("h", value=Result(0, "out\n", "err\n", 0))) == (
        "h | CHANGED | rc=0 >>\nout\nerr"
    )
    assert human_block(UNREACHABLE) == (
        "node3 | UNREACHABLE! => 10.0.0.3:22: connect timed out after 2 s (hint: is it up?)"
    )
    assert human_block(TIMED_OUT) == "node4 | FAILED! => command did not finish within 5 s"
    assert human_block(CRASHED) == "node5 | FAILED! => docker load failed: no space"


def test_reason_is_one_line():
    error = Unreachable("first line\nsecond line", hint="a\nb")
    assert reason_of(error) == "first line second line (hint: a b)"
    assert reason_of(ValueError("plain")) == "plain"


def test_json_lines():
    records = [json.loads(json_line(o)) for o in (OK, FAILED, UNREACHABLE, CRASHED)]
    assert records[0] == {"host": "node1", "status": "ok", "duration": 0.1235, "rc": 0,
                          "stdout": "node1\n", "stderr": ""}  # fmt: skip
    assert records[1] == {"host": "node2", "status": "failed", "duration": 0.5, "rc": 3,
                          "stdout": "", "stderr": "boom\n"}  # fmt: skip
    assert records[2] == {"host": "node3", "status": "unreachable", "duration": 2.0,
                          "msg": "10.0.0.3:22: connect timed out after 2 s (hint: is it up?)"}  # fmt: skip
    assert records[3]["status"] == "failed"
    assert records[3]["msg"] == "docker load failed: no space"
    assert "rc" not in records[3]
    for outcome in (OK, FAILED, UNREACHABLE):
        assert "\n" not in json_line(outcome)


def test_recap():
    assert recap([OK, FAILED, UNREACHABLE, TIMED_OUT], 1.234) == (
        "hosts=4 ok=1 failed=2 unreachable=1 in 1.23 s"
    )
    assert recap([], 0) == "hosts=0 ok=0 failed=0 unreachable=0 in 0.00 s"


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([], 0),
        ([OK], 0),
        ([OK, OK], 0),
        ([OK, FAILED], 2),
        ([TIMED_OUT], 2),
        ([CRASHED, OK], 2),
        ([OK, UNREACHABLE], 4),
        ([FAILED, UNREACHABLE], 4),  # unreachable beats failed, in any order
        ([UNREACHABLE, FAILED], 4),
        ([UNREACHABLE], 4),
    ],
)
def test_exit_codes(outcomes, code):
    assert exit_code(outcomes) == code
