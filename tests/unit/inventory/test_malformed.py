"""Malformed inventories: one line naming file:line, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestr.cli import main
from orchestr.errors import EXIT_PARSER_ERROR

CASES = {
    "bad_yaml.yml": ("all:\n  hosts:\n    h1: {a: 1\n  vars: x\n", 4, "invalid YAML"),
    "bad_range.ini": ("[web]\nh0\nweb[1:]\n", 3, "host range must specify end value"),
    "bad_range_width.yml": (
        "all:\n  hosts:\n    ok:\n    web[01:5]:\n",
        4,
        "equal-length",
    ),
    "bad_range_step.ini": ("[web]\nweb[1:5:x]\n", 2, "step"),
    "cycle.ini": ("[a:children]\nb\n[b:children]\na\n", 4, "recursive dependency loop"),
    "cycle.yml": (
        "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n"
        "            a:\n",
        5,
        "recursive dependency loop",
    ),
    "int_host.yml": (
        "all:\n  children:\n    g:\n      hosts:\n        123:\n",
        5,
        "must be a string",
    ),
    "bool_host.yml": ("all:\n  hosts:\n    ok:\n    yes:\n", 4, "must be a string"),
    "undeclared_vars.ini": ("[web]\nh1\n\n[ghost:vars]\nx=1\n", 4, "undefined group 'ghost'"),
    "undeclared_child.ini": ("[p:children]\nmissing\n[p]\nh\n", 2, "undefined group 'missing'"),
    "unknown_tag.ini": ("[web]\nh1\n[web:bogus]\nh2\n", 3, "unknown type: bogus"),
    "bad_token.ini": ("[web]\nh1 a=1 lonely\n", 2, "Expected key=value"),
    "bad_quote.ini": ("[web]\nh1\nh2 a='unterminated\n", 3, "No closing quotation"),
    "hosts_list.yml": (
        "all:\n  children:\n    g:\n      hosts: [a, b]\n",
        4,
        "requires a dictionary",
    ),
    "host_vars_scalar.yml": ("all:\n  hosts:\n    h1: 5\n", 3, "expected dictionary"),
    "bad_section.ini": ("[web servers]\nh1\n", 1, "Invalid section entry"),
    "port_colon.ini": ("[web]\nh1:\n", 2, "ending in ':'"),
    "bad_priority.ini": ("[g]\nh\n[g:vars]\nansible_group_priority=high\n", 4, "priority"),
    "plugin.yml": ("plugin: amazon.aws.aws_ec2\nregions: [x]\n", 1, "Plugin configuration"),
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["inventory", *args])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file_gives_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line, fragment = CASES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "-i", str(path), "--list")
    assert code == EXIT_PARSER_ERROR
    assert out == ""
    errors = [entry for entry in err.splitlines() if entry.startswith("ERROR")]
    assert len(errors) == 1, err
    assert f"{path}:{line}" in errors[0], errors[0]
    assert fragment in errors[0]
    assert "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.ini"
    code, _, err = run_cli(capsys, "-i", str(missing), "--list")
    assert code == EXIT_PARSER_ERROR
    assert err.startswith(f"ERROR: {missing}: inventory source not found")
    assert len(err.strip().splitlines()) == 1


def test_bad_vars_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("a: 1\nb: [unclosed\n")
    code, _, err = run_cli(capsys, "-i", str(tmp_path / "hosts"), "--list")
    assert code == EXIT_PARSER_ERROR
    assert f"{tmp_path / 'group_vars' / 'web.yml'}:" in err
    assert "Traceback" not in err


def test_vars_file_must_be_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "w1.yml").write_text("- a\n- b\n")
    code, _, err = run_cli(capsys, "-i", str(tmp_path / "hosts"), "--list")
    assert code == EXIT_PARSER_ERROR
    assert f"{tmp_path / 'host_vars' / 'w1.yml'}:1" in err


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.ini"
    path.write_bytes(b"[web]\nh\xe9\n")
    code, _, err = run_cli(capsys, "-i", str(path), "--list")
    assert code == EXIT_PARSER_ERROR
    assert str(path) in err


def test_duplicate_keys_are_an_error_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dup.yml"
    path.write_text("all:\n  hosts:\n    h1:\n      a: 1\n      a: 2\n")
    code, out, err = run_cli(capsys, "-i", str(path), "--host", "h1")
    assert code == EXIT_PARSER_ERROR
    assert out == ""
    assert err.startswith(f"ERROR: {path}:5:7: Found duplicate mapping key 'a'")
    assert len(err.strip().splitlines()) == 1


def test_duplicate_keys_warn_as_ansible_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-core 2.19's default (DUPLICATE_YAML_DICT_KEY=warn): keep the last value.
    monkeypatch.setenv("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "warn")
    path = tmp_path / "dup.yml"
    path.write_text("all:\n  hosts:\n    h1:\n      a: 1\n      a: 2\n")
    code, out, err = run_cli(capsys, "-i", str(path), "--host", "h1")
    assert code == 0
    assert '"a": 2' in out
    assert f"[WARNING]: {path}:5:7: Found duplicate mapping key 'a'" in err


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.ini"
    path.write_text("h1\n")
    code, _, err = run_cli(capsys, "-i", str(path))
    assert code == 5 and "No action selected" in err
    code, _, err = run_cli(capsys, "-i", str(path), "--list", "--graph")
    assert code == 5 and "Conflicting options" in err
    code, _, err = run_cli(capsys, "-i", str(path), "--host", "nohost")
    assert code == 5 and "single valid host" in err
    code, _, err = run_cli(capsys, "-i", str(path), "--graph", "nogroup")
    assert code == 5 and "valid group name" in err


def test_bad_subscript_and_regex_with_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.ini"
    path.write_text("[g]\nh1\n")
    code, _, err = run_cli(capsys, "-i", str(path), "--list-hosts", "all", "-l", "g[4]")
    assert code == 1 and "subscripted pattern" in err
    code, _, err = run_cli(capsys, "-i", str(path), "--list-hosts", "all", "-l", "~(")
    assert code == 1 and "Invalid host list pattern" in err
    code, _, err = run_cli(capsys, "-i", str(path), "--list-hosts", "all", "-l", "@/nonexistent")
    assert code == 1 and "Unable to find limit file" in err


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "cycle.ini"
    path.write_text("[a:children]\nb\n[b:children]\na\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "orchestr"), "inventory", "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_PARSER_ERROR
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"ERROR: {path}:4: ")
    assert "Traceback" not in done.stderr
