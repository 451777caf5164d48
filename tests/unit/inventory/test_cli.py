"""`orchestr inventory` prints what ansible-inventory / `ansible --list-hosts` print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import corpus_args, normalize

from orchestr.cli import main


def run_ours(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["inventory", *args])
    return int(done.value.code or 0), capsys.readouterr().out


CASES = [
    ("ini_nested_vars_precedence.ini", ["--graph", "top"]),
    ("ini_nested_vars_precedence.ini", ["--graph", "mid", "--vars"]),
    ("yaml_nested.yml", ["--graph", "--vars"]),
    ("dir_playbook_wins", ["--graph", "web", "--vars"]),
    ("yaml_basic.yml", ["--host", "one.example.com"]),
    ("yaml_vars_types.yml", ["--host", "h1"]),
]


@pytest.mark.parametrize(("name", "args"), CASES)
def test_text_output_identical(name: str, args: list[str], oracle, capsys) -> None:
    expected = oracle.inventory([*corpus_args(name), *args])
    code, out = run_ours(capsys, *corpus_args(name), *args)
    assert (code, out) == (expected.returncode, expected.stdout)


@pytest.mark.parametrize("limit", ["web", "!dbservers", "*.example.com:&webservers", "all[1:]"])
def test_list_with_limit(limit: str, oracle, capsys) -> None:
    args = corpus_args("yaml_basic.yml")
    expected = oracle.inventory([*args, "--list", "--limit", limit])
    code, out = run_ours(capsys, *args, "--list", "--limit", limit)
    assert code == expected.returncode == 0
    assert normalize(json.loads(out)) == normalize(json.loads(expected.stdout))


@pytest.mark.parametrize(
    ("pattern", "limit"),
    [("all", None), ("web:db", None), ("all:!web", "w*"), ("letters[1:]", None), ("~node.*", None)],
)
def test_list_hosts(pattern: str, limit: str | None, oracle, capsys) -> None:
    source = corpus_args("ini_ranges.ini")[1]
    expected = oracle.list_hosts([source], pattern, limit)
    extra = ["-l", limit] if limit else []
    code, out = run_ours(capsys, "-i", source, "--list-hosts", pattern, *extra)
    if expected == ["<error>"]:
        assert code == 1 and out == ""
    else:
        assert code == 0
        assert [line.strip() for line in out.splitlines()[1:]] == expected


def test_limit_file(tmp_path: Path, oracle, capsys) -> None:
    source = corpus_args("ini_basic.ini")[1]
    limit_file = tmp_path / "retry"
    limit_file.write_text("db1\nweb2.example.com\n\n")
    expected = oracle.list_hosts([source], "all", f"@{limit_file}")
    _, out = run_ours(capsys, "-i", source, "--list-hosts", "all", "-l", f"@{limit_file}")
    assert (
        [line.strip() for line in out.splitlines()[1:]]
        == expected
        == [
            "web2.example.com",
            "db1",
        ]
    )


def test_api_select_order_and_warnings() -> None:
    from orchestr.inventory import load_inventory

    inventory = load_inventory(corpus_args("ini_basic.ini")[1::2])
    selected = inventory.select("db:web:nothing", limit="!db2")
    assert [h.name for h in selected] == ["db1", "web1.example.com", "web2.example.com"]
    assert selected.warnings == ("Could not match supplied host pattern, ignoring: nothing",)
    db1 = inventory.hosts["db1"]
    assert (db1.address, db1.user, db1.group_names) == ("10.0.0.5", "admin", ("db",))
