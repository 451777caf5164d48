"""Unit tests of the benchmark harness's pure parts; no lab, no network.

.venv/bin/pytest bench/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jinja2
import pytest

from bench import harness, lab, scenarios
from bench.__main__ import list_scenarios, parse_args
from bench.bare import ssh_run
from bench.harness import Contender, Outcome, Summary
from bench.scenarios import common

OK = Outcome(1.0, True)


def outcomes(*seconds: float, failed: tuple[float, ...] = ()) -> list[Outcome]:
    return [Outcome(s, True) for s in seconds] + [Outcome(s, False, "boom") for s in failed]


# ---------------------------------------------------------------- summaries and ratios


def test_summarize_odd_count_takes_the_middle_value():
    # a skewed sample: the mean (4.33) would differ from the median
    assert harness.summarize(outcomes(10.0, 1.0, 2.0)) == Summary(3, 0, 2.0, 1.0, 10.0)


def test_summarize_even_count_averages_the_middle_two():
    assert harness.summarize(outcomes(40.0, 1.0, 2.0, 3.0)).median == 2.5


def test_summarize_leaves_failed_runs_out_of_the_times_but_counts_them():
    summary = harness.summarize(outcomes(1.0, 2.0, failed=(0.01, 0.02, 0.03)))
    assert summary == Summary(runs=5, failures=3, median=1.5, min=1.0, max=2.0)


def test_summarize_all_failed_has_no_times():
    assert harness.summarize(outcomes(failed=(1.0,))) == Summary(1, 1, None, None, None)
    assert harness.summarize([]) == Summary(0, 0, None, None, None)


def test_ratios_against_baseline_and_floor():
    rel = harness.ratios({"orchestr": 2.0, "ansible": 6.0, "bare": 1.0}, "orchestr", "bare")
    assert rel["ansible"] == {"vs_baseline": 3.0, "vs_floor": 6.0}
    assert rel["orchestr"] == {"vs_baseline": 1.0, "vs_floor": 2.0}
    assert rel["bare"] == {"vs_baseline": 0.5, "vs_floor": 1.0}


def test_ratios_missing_or_failed_reference_gives_none():
    rel = harness.ratios({"orchestr": None, "ansible": 6.0}, "orchestr", "bare")
    assert rel["ansible"] == {"vs_baseline": None, "vs_floor": None}
    assert harness.ratios({"a": 1.0}, None, None) == {"a": {"vs_baseline": None, "vs_floor": None}}
    assert harness.ratio(1.0, 0.0) is None


# ---------------------------------------------------------------- the table


def test_table_shows_medians_ratios_and_failures():
    summaries = {
        "orchestr": harness.summarize(outcomes(1.0, 1.2, 1.1)),
        "ansible-raw": harness.summarize(outcomes(2.2, 2.4, 2.3)),
        "pyinfra": harness.summarize(outcomes(failed=(0.1, 0.1, 0.1))),
        "bare": harness.summarize(outcomes(0.5, 0.6, 0.55)),
    }
    medians = {n: s.median for n, s in summaries.items()}
    table = harness.format_table(
        summaries, harness.ratios(medians, "orchestr", "bare"), "orchestr", "bare"
    )
    lines = table.splitlines()
    assert lines[0].split() == ["contender", "median", "s", "min", "s", "max", "s", "runs",
                                "vs", "orchestr", "vs", "bare"]  # fmt: skip
    assert set(lines[1]) <= {"-", " "}
    ansible = next(line for line in lines if line.startswith("ansible-raw"))
    assert ansible.split() == ["ansible-raw", "2.300", "2.200", "2.400", "3/3", "2.09x", "4.18x"]
    pyinfra = next(line for line in lines if line.startswith("pyinfra"))
    assert pyinfra.split() == ["pyinfra", "-", "-", "-", "0/3", "FAIL", "-", "-"]
    # right-aligned numbers: the medians end in the same column
    ends = {
        line.index(word) + len(word)
        for line, word in zip(lines[2:4], ["1.100", "2.300"], strict=True)
    }
    assert len(ends) == 1


def test_table_without_baseline_or_floor():
    table = harness.format_table(
        {"lab up": harness.summarize(outcomes(5.0))}, {}, baseline=None, floor=None
    )
    assert "vs baseline" in table and "vs floor" in table
    assert table.splitlines()[-1].split() == [
        "lab",
        "up",
        "5.000",
        "5.000",
        "5.000",
        "1/1",
        "-",
        "-",
    ]


# ---------------------------------------------------------------- JSON record


def test_result_path_uses_utc():
    moment = datetime(2025, 3, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))
    path = harness.result_path(Path("bench/results"), "docker-info", moment)
    assert path == Path("bench/results/docker-info-20250228T230203Z.json")


def test_build_record_is_json_and_excludes_warmup_and_failures():
    contenders = [Contender("orchestr", ["true"]), Contender("bare", ["true"])]
    started = datetime(2025, 1, 1, tzinfo=UTC)
    record = harness.build_record(
        scenario="s",
        started=started,
        finished=started + timedelta(seconds=9),
        options={"runs": 3},
        machine={"cpu_count": 2},
        versions={"pyinfra": "3"},
        contenders=contenders,
        warmup={"orchestr": outcomes(100.0), "bare": outcomes(100.0)},
        measured={"orchestr": outcomes(2.0, 4.0, failed=(0.1,)), "bare": outcomes(1.0, 1.0, 1.0)},
        baseline="orchestr",
        floor="bare",
    )
    again = json.loads(json.dumps(record))
    assert again["contenders"]["orchestr"]["median"] == 3.0
    assert again["contenders"]["orchestr"]["failures"] == 1
    assert again["contenders"]["orchestr"]["errors"] == ["boom"]
    assert again["contenders"]["orchestr"]["seconds"] == [2.0, 4.0, 0.1]
    assert again["contenders"]["orchestr"]["warmup_seconds"] == [100.0]
    assert again["ratios"]["orchestr"] == {"vs_baseline": 1.0, "vs_floor": 3.0}
    assert again["started_utc"] == "2025-01-01T00:00:00+00:00"
    assert again["versions"] == {"pyinfra": "3"} and again["machine"] == {"cpu_count": 2}
    assert again["data"] == {}

    table = harness.markdown_table(again).splitlines()
    assert table[0] == "| contender | median s | min s | max s | ok runs | vs orchestr | vs bare |"
    assert table[2] == "| orchestr | 3.000 | 2.000 | 4.000 | 2/3 | 1.00x | 3.00x |"
    assert table[3] == "| bare | 1.000 | 1.000 | 1.000 | 3/3 | 0.33x | 1.00x |"


# ---------------------------------------------------------------- running


def test_round_order_rotates_so_each_contender_leads_once():
    orders = [harness.round_order(3, i, rotate=True) for i in range(3)]
    assert orders == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert harness.round_order(3, 2, rotate=False) == [0, 1, 2]
    assert harness.round_order(0, 5, rotate=True) == []


def test_contender_needs_exactly_one_of_argv_and_func():
    async def nothing():
        return None

    with pytest.raises(ValueError):
        Contender("x")
    with pytest.raises(ValueError):
        Contender("x", ["true"], func=nothing)


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_time_once_failing_exit_code_is_reported(tmp_path):
    outcome = harness.time_once(
        Contender("x", py("import sys; print('bad thing', file=sys.stderr); sys.exit(3)")),
        cwd=tmp_path,
        timeout=30,
    )
    assert not outcome.ok
    assert "exit 3" in outcome.error and "bad thing" in outcome.error
    assert outcome.seconds > 0


def test_time_once_check_rejects_wrong_output(tmp_path):
    def check(done: subprocess.CompletedProcess) -> str | None:
        return None if done.stdout.strip() == "42" else "not 42"

    good = harness.time_once(Contender("x", py("print(42)"), check=check), cwd=tmp_path, timeout=30)
    bad = harness.time_once(Contender("x", py("print(41)"), check=check), cwd=tmp_path, timeout=30)
    assert good.ok and not bad.ok and "not 42" in bad.error


def test_time_once_timeout_is_a_failure(tmp_path):
    outcome = harness.time_once(
        Contender("x", py("import time; time.sleep(5)")), cwd=tmp_path, timeout=0.3
    )
    assert not outcome.ok and "timed out" in outcome.error


def test_time_once_passes_env_and_runs_hooks_around(tmp_path):
    calls = []

    def before():
        calls.append("before")
        return {"BENCH_B": "from-before"}

    contender = Contender(
        "x",
        py(
            "import os, pathlib; pathlib.Path('env').write_text(os.environ['BENCH_A'] + os.environ['BENCH_B'])"
        ),
        env={"BENCH_A": "fixed-"},
        before=before,
        after=lambda: calls.append("after"),
    )
    assert harness.time_once(contender, cwd=tmp_path, timeout=30).ok
    assert (tmp_path / "env").read_text() == "fixed-from-before"
    assert calls == ["before", "after"]


def test_time_once_async_callable(tmp_path):
    async def works():
        return 1

    async def breaks():
        raise RuntimeError("no host")

    assert harness.time_once(Contender("a", func=works), cwd=tmp_path, timeout=5).ok
    failed = harness.time_once(Contender("b", func=breaks), cwd=tmp_path, timeout=5)
    assert not failed.ok and "RuntimeError: no host" in failed.error


def test_run_rounds_alternates_and_keeps_warmup_apart(tmp_path):
    order = []

    def contender(name: str) -> Contender:
        async def work():
            order.append(name)

        return Contender(name, func=work)

    warm, measured = harness.run_rounds(
        [contender("a"), contender("b")],
        runs=3,
        warmup=1,
        rotate=True,
        cwd=tmp_path,
        timeout=5,
        say=lambda _: None,
    )
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert [len(warm["a"]), len(measured["a"]), len(measured["b"])] == [1, 3, 3]


# ---------------------------------------------------------------- scenario registry


def test_registry_finds_the_scenario_modules():
    found = scenarios.load_all()
    assert {"lab-cycle", "docker-info", "exec", "second-command", "image-push"} <= set(found)
    assert "common" not in found  # the shared helper module registers nothing
    assert scenarios.get("docker-info").needs_peers
    assert "lab-cycle" in list_scenarios()


def test_unknown_scenario_names_the_known_ones():
    with pytest.raises(KeyError, match="lab-cycle"):
        scenarios.get("no-such-scenario")


def test_register_refuses_duplicates_and_nameless(monkeypatch):
    monkeypatch.setattr(scenarios, "_REGISTRY", {})

    class One(scenarios.Scenario):
        name = "same"

    class Two(scenarios.Scenario):
        name = "same"

    class Nameless(scenarios.Scenario):
        pass

    scenarios.register(One)
    scenarios.register(One)  # the same class again (a re-import) is fine
    with pytest.raises(ValueError, match="twice"):
        scenarios.register(Two)
    with pytest.raises(ValueError, match="no name"):
        scenarios.register(Nameless)


def test_cli_arguments():
    args = parse_args(["docker-info", "--runs", "7", "--hosts", "4", "--only", "bare"])
    assert (args.scenario, args.runs, args.warmup, args.hosts, args.only) == (
        "docker-info", 7, 1, 4, ["bare"]
    )  # fmt: skip
    assert parse_args(["--list"]).list
    for bad in ([], ["x", "--runs", "0"], ["x", "--warmup", "-1"], ["x", "--hosts", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


# ---------------------------------------------------------------- lab inventory and peers

INVENTORY = """\
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: /state/labs/bench/id_ed25519
    ansible_ssh_common_args: -o UserKnownHostsFile=/state/labs/bench/known_hosts -o StrictHostKeyChecking=yes
  children:
    lab:
      children:
        nodes:
          hosts:
            node1: {ansible_host: 198.18.0.6, zone: a}
            node2: {ansible_host: 198.18.0.7}
        lb:
          hosts:
            lb1: {ansible_host: 198.18.0.9}
"""


def test_parse_inventory_takes_the_group_key_and_known_hosts():
    inv = lab.parse_inventory(INVENTORY, "nodes")
    assert inv.targets == (lab.Target("node1", "198.18.0.6"), lab.Target("node2", "198.18.0.7"))
    assert inv.user == "root"
    assert inv.private_key == "/state/labs/bench/id_ed25519"
    assert inv.known_hosts == "/state/labs/bench/known_hosts"
    assert [t.name for t in lab.parse_inventory(INVENTORY, "lab").targets] == [
        "node1", "node2", "lb1"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="no hosts"):
        lab.parse_inventory(INVENTORY, "web")


def test_parse_inventory_refuses_one_without_known_hosts():
    text = INVENTORY.replace("-o UserKnownHostsFile=/state/labs/bench/known_hosts ", "")
    with pytest.raises(ValueError, match="UserKnownHostsFile"):
        lab.parse_inventory(text, "nodes")


def test_parse_inventory_reads_what_orchestr_lab_writes():
    from orchestr.lab.inventory_file import render_inventory
    from orchestr.lab.model import LabHost

    hosts = [
        LabHost(lab="bench", name="node1", role="node", address="198.18.0.2", zone="a"),
        LabHost(lab="bench", name="lb1", role="lb", address="198.18.0.3", zone=""),
    ]
    text = render_inventory("bench", hosts, "/k/id", "/k/known hosts")
    inv = lab.parse_inventory(text, "nodes")
    assert inv.targets == (lab.Target("node1", "198.18.0.2"),)
    assert (inv.private_key, inv.known_hosts) == ("/k/id", "/k/known hosts")


def test_shape_matches_counts_roles_and_health():
    row = {"role": "node", "ssh_ok": True, "docker_ok": True}
    assert lab.shape_matches([row, row], 2, lb=False)
    assert not lab.shape_matches([row, row], 3, lb=False)
    assert not lab.shape_matches([row, row], 2, lb=True)
    assert lab.shape_matches([row, row, {**row, "role": "lb"}], 2, lb=True)
    assert not lab.shape_matches([row, {**row, "docker_ok": False}], 2, lb=False)
    assert not lab.shape_matches(None, 2, lb=False)


# ---------------------------------------------------------------- side-by-side scenarios' pieces


@pytest.mark.parametrize(
    "text",
    [
        "docker info --format '{{.ContainersRunning}}'",
        "echo '{% raw %}' {# x #} }}{{",
        "no braces at all",
    ],
)
def test_jinja_literal_renders_back_to_the_text(text):
    escaped = common.jinja_literal(text)
    assert jinja2.Environment().from_string(escaped).render() == text
    if "{" in text:
        assert escaped != text


def test_pyinfra_inventory_is_python_with_strict_host_keys():
    inv = lab.parse_inventory(INVENTORY, "nodes")
    namespace: dict = {}
    exec(common.pyinfra_inventory(inv), namespace)  # noqa: S102 - our own generated text
    assert [name for name, _ in namespace["nodes"]] == ["node1", "node2"]
    data = dict(namespace["nodes"][1][1])
    assert data["ssh_hostname"] == "198.18.0.7"
    assert data["ssh_strict_host_key_checking"] == "yes"
    assert data["ssh_known_hosts_file"] == "/state/labs/bench/known_hosts"
    assert data["ssh_key"] == "/state/labs/bench/id_ed25519"
    assert data["ssh_allow_agent"] is False


def done(stdout: str, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], 0, stdout, stderr)


def test_output_checks_want_one_number_per_host():
    ansible = common.check_pattern(2, common.ANSIBLE_NUMBER, "ansible")
    good = "node1 | CHANGED | rc=0 >>\n0\nnode2 | CHANGED | rc=0 >>\n3\n"
    assert ansible(done(good)) is None
    assert "1 of 2" in ansible(done("node1 | CHANGED | rc=0 >>\n0\nnode2 | FAILED | rc=1 >>\n"))
    assert ansible(done("node1 | CHANGED | rc=0 >>\n{{.ContainersRunning}}\n")) is not None

    pyinfra = common.check_pattern(2, common.PYINFRA_NUMBER, "pyinfra")
    assert pyinfra(done("", "[node1]  0\n    [node1]  Success\n[node10] 12\n")) is None
    assert pyinfra(done("", "[node1]  0\n    [node1]  Success\n")) is not None

    bare = common.check_pattern(2, common.BARE_NUMBER, "bare")
    assert bare(done("198.18.0.2 rc=0 0\n198.18.0.3 rc=0 1\n")) is None
    assert bare(done("198.18.0.2 rc=0 0\n198.18.0.3 rc=255 HostKeyNotVerifiable\n")) is not None

    orchestr = common.check_orchestr_json(2, common.NUMBER)
    row = {"host": "node1", "status": "ok", "rc": 0, "stdout": "0\n", "stderr": ""}
    two = [row, {**row, "host": "node2", "stdout": "12\n"}]
    assert orchestr(done("\n".join(json.dumps(r) for r in two))) is None
    failed = [row, {**row, "host": "node2", "status": "failed", "rc": 1, "stdout": ""}]
    assert "1 of 2" in orchestr(done("\n".join(json.dumps(r) for r in failed)))
    unreachable = [row, {"host": "node2", "status": "unreachable", "msg": "refused"}]
    assert orchestr(done("\n".join(json.dumps(r) for r in unreachable))) is not None
    no_number = [row, {**row, "host": "node2", "stdout": "{{.ContainersRunning}}"}]
    assert orchestr(done("\n".join(json.dumps(r) for r in no_number))) is not None
    # the same host twice is one host
    assert orchestr(done("\n".join(json.dumps(r) for r in [row, row]))) is not None


def test_bare_script_needs_a_command_after_double_dash():
    with pytest.raises(SystemExit):
        ssh_run.main(["--key", "k", "--known-hosts", "kh", "198.18.0.2"])
    with pytest.raises(SystemExit):
        ssh_run.main(["--key", "k", "--known-hosts", "kh", "198.18.0.2", "--"])
