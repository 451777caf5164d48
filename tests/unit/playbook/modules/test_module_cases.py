"""Modules as data: each cases/<module>/<case>.json holds the arguments, the facts observed on
the host, and the exact steps, change and diff the module's plan must produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestr.playbook.modules.common import FileFacts
from orchestr.playbook.modules.copy import Source, plan_copy, sha1
from orchestr.playbook.modules.file import plan_file

CASES = Path(__file__).parent / "cases"


def load(module: str) -> list:
    return [pytest.param(json.loads(path.read_text()), id=path.stem)
            for path in sorted((CASES / module).glob("*.json"))]  # fmt: skip


def facts_of(case: dict, checksum_of: bytes = b"") -> FileFacts:
    values = dict(case["facts"])
    path, kind = values.pop("path"), values.pop("kind")
    if values.get("checksum") == "same":
        values["checksum"] = sha1(checksum_of)
    return FileFacts.of(path, kind, **values)


def check(plan, case: dict) -> None:
    assert plan.rendered() == case["commands"], case.get("about")
    assert plan.failed == case.get("failed", False)
    if "msg" in case:
        assert plan.msg == case["msg"]
    if not plan.failed:
        assert plan.changed == case["changed"]
    if "result_diff" in case:
        assert plan.diff == case["result_diff"]
    for key, value in case.get("data", {}).items():
        assert plan.data.get(key) == value, key


@pytest.mark.parametrize("case", load("copy"))
def test_copy(case):
    spec = case.get("source", {"content": case["args"].get("content", "")})
    data = spec["content"].encode()
    mode = int(spec["mode"], 8) if "mode" in spec else None
    source = Source(data, sha1(data), spec.get("label", "dynamically generated"), mode)
    plan = plan_copy(case["args"], source, facts_of(case, data),
                     backup_name=case.get("backup_name", ""), diff=case.get("diff", False))  # fmt: skip
    check(plan, case)


@pytest.mark.parametrize("case", load("file"))
def test_file(case):
    check(plan_file(case["args"], facts_of(case), case.get("recurse_differs", False)), case)


def test_every_case_file_is_used():
    assert len(load("copy")) >= 10 and len(load("file")) >= 15
