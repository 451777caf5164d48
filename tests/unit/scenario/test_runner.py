"""The scenario runner's pure parts and its sequencing, without a lab: idempotence read from
`orchestr apply --json` events, summaries, exit codes, run state, what runs after a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestr.errors import ParseError
from orchestr.scenario.model import ACTIONS, Scenario
from orchestr.scenario.runner import (
    RunFiles,
    RunState,
    ScenarioRun,
    StepFailed,
    StepResult,
    exit_code,
    find_project,
    idempotence_report,
    load_scenario,
    scenario_names,
    summary_line,
)

REPO = Path(__file__).resolve().parents[3]


def events(*items: dict) -> str:
    return "\n".join(json.dumps(item) for item in items) + "\n"


def test_idempotence_passes_when_every_recap_says_changed_0():
    text = events(
        {"event": "play_start", "name": "site"},
        {"event": "task_start", "name": "web"},
        {"event": "host_result", "host": "node1", "status": "ok"},
        {"event": "recap", "stats": {"node1": {"ok": 3, "changed": 0, "failed": 0}}},
        {"event": "finished", "seconds": 1.0},
    )
    report = idempotence_report(text)
    assert report.changed_hosts == {}
    assert report.lines == [
        "PLAY RECAP (second converge)",
        f"{'node1':<26} : ok=3 changed=0 failed=0",
    ]


def test_idempotence_fails_naming_the_tasks_that_changed():
    # orchestr apply --json prints each host's counters as the text of its Stats value.
    text = events(
        {"event": "task_start", "name": "ship the image"},
        {"event": "host_result", "host": "node2", "status": "changed"},
        {"event": "task_start", "name": "web"},
        {"event": "host_result", "host": "node1", "status": "ok"},
        {"event": "recap", "stats": {
            "node1": "Stats(ok=3, changed=0, unreachable=0, failed=0, skipped=0, rescued=0, ignored=0)",
            "node2": "Stats(ok=1, changed=1, unreachable=0, failed=0, skipped=0, rescued=0, ignored=0)",
        }},
    )  # fmt: skip
    report = idempotence_report(text)
    assert report.changed_hosts == {"node2": 1}
    assert report.lines[:2] == [
        "Idempotence test failed because of the following tasks:",
        "* [node2] => ship the image",
    ]
    assert report.lines[-1].startswith(f"{'node2':<26} : ok=1 changed=1 unreachable=0")


def test_a_changed_task_counts_even_without_a_recap_and_failures_are_shown():
    text = "not json\n" + events(
        {"event": "task_start", "name": "api"},
        {"event": "host_result", "host": "node1", "status": "changed"},
        {"event": "host_result", "host": "node2", "status": "failed", "result": {"msg": "boom"}},
        {"event": "warning", "message": "careful"},
    )
    report = idempotence_report(text)
    assert report.changed_hosts == {"node1": 1}
    assert "failed: [node2] api: boom" in report.lines
    assert "[WARNING]: careful" in report.lines
    assert "(no recap: the run printed no recap event)" in report.lines


def test_summary_and_exit_code():
    passed = [StepResult("create", "passed", 4.0), StepResult("prepare", "skipped", 0.0),
              StepResult("converge", "passed", 6.25)]  # fmt: skip
    assert summary_line("default", passed) == (
        "--> Scenario default: passed in 10.2 s "
        "(create 4.0 s, prepare 0.0 s skipped, converge 6.2 s)"
    )
    assert exit_code(passed) == 0
    failed = [*passed, StepResult("verify", "failed", 1.0, 2), StepResult("destroy", "passed", 1.0)]
    assert summary_line("default", failed).startswith(
        "--> Scenario default: FAILED at verify (exit 2) after 12.2 s"
    )
    assert exit_code(failed) == 2


def test_run_state_survives_between_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTR_STATE_DIR", str(tmp_path))
    files = RunFiles.of("molecule-default")
    assert files.root == tmp_path / "scenarios" / "molecule-default"
    assert RunState.read(files, "default", "molecule-default").created is False
    state = RunState("default", "molecule-default", created=True, dns_port=5353,
                     addresses={"node1": "198.18.0.2", "lb1": "198.18.0.5"})  # fmt: skip
    state.write(files)
    again = RunState.read(files, "default", "molecule-default")
    assert again == state
    assert again.lb_address == "198.18.0.5"


def write_scenario(project: Path, name: str, text: str = "platforms: [{name: node}]\n") -> None:
    folder = project / "molecule" / name
    folder.mkdir(parents=True)
    (folder / "molecule.yml").write_text(text)
    for book in ("converge.yml", "verify.yml"):
        (folder / book).write_text("- hosts: nodes\n  tasks: []\n")


def test_scenarios_are_the_folders_with_a_molecule_yml(tmp_path):
    write_scenario(tmp_path, "default")
    write_scenario(tmp_path, "failover")
    (tmp_path / "molecule" / "resources").mkdir()
    assert scenario_names(tmp_path) == ["default", "failover"]
    deeper = tmp_path / "molecule" / "default"
    assert find_project(str(deeper)) == tmp_path
    scenario = load_scenario(tmp_path, "failover")
    assert scenario.playbooks["converge"] == "molecule/failover/converge.yml"
    with pytest.raises(ParseError) as caught:
        load_scenario(tmp_path, "drain")
    assert caught.value.hint == "scenarios: default, failover"


def test_the_repositorys_scenarios_all_parse():
    names = scenario_names(REPO)
    assert {"default", "failover", "rolling", "drain"} <= set(names)
    for name in names:
        scenario = load_scenario(REPO, name)
        assert scenario.lb and scenario.nodes >= 3
        assert set(scenario.playbooks) == {"converge", "verify"}


class FakeRun(ScenarioRun):
    """Actions that only record themselves; `fail` names the one that fails."""

    def __init__(self, scenario: Scenario, tmp_path: Path, fail: str = ""):
        self.lines: list[str] = []
        super().__init__(scenario, "molecule-test", tmp_path, echo=self.lines.append,
                         note=self.lines.append)  # fmt: skip
        self.fail = fail
        self.done: list[str] = []

    def act(self, action: str) -> None:
        self.done.append(action)
        if action == self.fail:
            raise StepFailed(f"{action} went wrong", 2)


for _action in ACTIONS:
    setattr(FakeRun, f"do_{_action}", lambda self, _action=_action: self.act(_action))


SEQUENCE = ("destroy", "syntax", "create", "converge", "idempotence", "verify", "destroy")


@pytest.fixture
def scenario(tmp_path, monkeypatch) -> Scenario:
    monkeypatch.setenv("ORCHESTR_STATE_DIR", str(tmp_path / "state"))
    return Scenario("test", "molecule/test", "molecule/test/molecule.yml", (), 1, False)


def test_a_passing_sequence_runs_every_action_with_headers(scenario, tmp_path):
    run = FakeRun(scenario, tmp_path)
    results = run.run(SEQUENCE, destroy_on_failure=True)
    assert run.done == list(SEQUENCE)
    assert [r.status for r in results] == ["passed"] * len(SEQUENCE)
    assert run.lines[:3] == ["--> Scenario: test", "--> Action: destroy",
                             run.lines[2]]  # fmt: skip
    assert run.lines[2].startswith("--> Action: destroy passed in ")


def test_a_failed_step_skips_to_the_last_destroy(scenario, tmp_path):
    run = FakeRun(scenario, tmp_path, fail="idempotence")
    results = run.run(SEQUENCE, destroy_on_failure=True)
    assert run.done == ["destroy", "syntax", "create", "converge", "idempotence", "destroy"]
    assert [r.status for r in results][-2:] == ["failed", "passed"]
    assert exit_code(results) == 2
    assert any("--> Action: idempotence FAILED" in line for line in run.lines)


def test_keep_leaves_the_lab_up_passed_or_failed(scenario, tmp_path):
    run = FakeRun(scenario, tmp_path, fail="verify")
    run.run(SEQUENCE, destroy_on_failure=True, keep=True)
    assert run.done == ["destroy", "syntax", "create", "converge", "idempotence", "verify"]
    run = FakeRun(scenario, tmp_path)
    results = run.run(SEQUENCE, destroy_on_failure=True, keep=True)
    assert run.done == list(SEQUENCE[:-1])  # the first destroy still cleans up
    assert results[-1].status == "skipped"


def test_sub_steps_do_not_destroy_on_failure(scenario, tmp_path):
    run = FakeRun(scenario, tmp_path, fail="converge")
    results = run.run(("create", "prepare", "converge"))
    assert run.done == ["create", "prepare", "converge"]
    assert exit_code(results) == 2
