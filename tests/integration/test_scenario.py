"""`orchestr scenario` for real: the default scenario's whole test sequence on its own lab (3
nodes and an lb, playbooks/site.yml converged twice, verified through HAProxy, DNS and orchestr
status, destroyed), the steps run one command at a time, and a failing scenario that still
leaves nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_NAME, ORCHESTR

REPO = Path(__file__).resolve().parents[2]
# Each scenario must pass within 5 minutes (about 15-40 s here with the host image built).
SCENARIO_BOUND = 300.0
# The labs' prefix ($ORCHESTR_TEST_LAB): apart from the session's own labs (test_failover's
# LAB_NAME-failover would be the failover scenario's).
PREFIX = f"{LAB_NAME}-scn"


def scenario(*args: str, cwd: Path = REPO, timeout: float = SCENARIO_BOUND + 60):
    env = {**os.environ, "ORCHESTR_TEST_LAB": PREFIX}
    return subprocess.run([ORCHESTR, "scenario", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def lab_containers(lab: str) -> list[str]:
    done = subprocess.run(["docker", "ps", "-a", "--filter", f"label=orchestr.lab={lab}",
                           "--format", "{{.Names}}"], capture_output=True, text=True)  # fmt: skip
    return done.stdout.split()


def dns_servers(run_dir: Path) -> list[str]:
    done = subprocess.run(["pgrep", "-f", f"dns serve --zone-file {run_dir}"],
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.split()


@pytest.fixture
def state_dir(lab) -> Path:
    del lab  # for ORCHESTR_STATE_DIR; each scenario brings up its own lab
    return Path(os.environ["ORCHESTR_STATE_DIR"])


def test_default_scenario_passes_its_whole_sequence(state_dir: Path):
    lab = f"{PREFIX}-default"
    started = time.monotonic()
    done = scenario("test", "default")
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    actions = re.findall(r"^--> Action: (\w+)$", done.stdout, re.MULTILINE)
    assert actions == ["destroy", "syntax", "create", "prepare", "converge", "idempotence",
                       "verify", "destroy"]  # fmt: skip
    assert done.stdout.count("--> Scenario: default\n") == len(actions)
    assert "Idempotence completed successfully." in done.stdout
    assert "Verifier completed successfully." in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("--> Scenario default: passed in "), summary
    print(f"\n{summary} (wall {seconds:.1f} s)")
    assert seconds < SCENARIO_BOUND
    assert lab_containers(lab) == []
    assert not (state_dir / "scenarios" / lab).exists()
    assert dns_servers(state_dir / "scenarios" / lab) == []


def test_steps_one_command_at_a_time_share_the_lab_and_the_dns_server(state_dir: Path):
    lab = f"{PREFIX}-default"
    run_dir = state_dir / "scenarios" / lab
    try:
        converged = scenario("converge", "default")
        assert converged.returncode == 0, (converged.stdout + converged.stderr)[-4000:]
        assert len(dns_servers(run_dir)) == 1  # outlives the command that started it
        again = scenario("converge", "default")
        assert again.returncode == 0
        assert "Skipping, instances already created." in again.stdout
        listed = scenario("list")
        assert re.search(rf"^default\s+{lab}\s+3 nodes \+ lb1\s+converged\s", listed.stdout,
                         re.MULTILINE), listed.stdout  # fmt: skip
        exports = scenario("env", "default")
        assert exports.returncode == 0, exports.stderr
        shell = f'{exports.stdout}\n"{ORCHESTR}" status --json -T 2 | head -c 10000'
        status = subprocess.run(["bash", "-c", shell], capture_output=True, text=True)
        assert '"name": "web"' in status.stdout, status.stdout + status.stderr
        verified = scenario("verify", "default")
        assert verified.returncode == 0, (verified.stdout + verified.stderr)[-4000:]
    finally:
        destroyed = scenario("destroy", "default")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert lab_containers(lab) == []
    assert dns_servers(run_dir) == []
    assert not run_dir.exists()


def test_a_failing_verify_still_destroys_and_names_the_step(state_dir: Path, tmp_path: Path):
    folder = tmp_path / "molecule" / "broken"
    folder.mkdir(parents=True)
    (folder / "molecule.yml").write_text("platforms:\n  - {name: node, count: 1}\n")
    (folder / "converge.yml").write_text("- hosts: nodes\n  gather_facts: false\n  tasks: []\n")
    (folder / "verify.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - fail: {msg: the verifier says no}\n"
    )
    done = scenario("test", "broken", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the verifier says no" in done.stdout
    assert "--> Action: verify FAILED" in done.stdout
    assert (
        done.stdout.strip()
        .splitlines()[-1]
        .startswith("--> Scenario broken: FAILED at verify (exit 2)")
    )
    assert re.findall(r"^--> Action: (\w+)$", done.stdout, re.MULTILINE)[-1] == "destroy"
    lab = f"{PREFIX}-broken"
    assert lab_containers(lab) == []
    assert not (state_dir / "scenarios" / lab).exists()


def test_a_bad_molecule_yml_is_refused_before_any_lab_is_touched(tmp_path: Path):
    folder = tmp_path / "molecule" / "default"
    folder.mkdir(parents=True)
    (folder / "molecule.yml").write_text("driver: {name: docker}\nplatforms: []\n")
    (folder / "converge.yml").write_text("- hosts: nodes\n  tasks: []\n")
    done = scenario("test", cwd=tmp_path)
    assert done.returncode == 4
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "ERROR: molecule/default/molecule.yml:1:16: driver 'docker' is not supported (hint: use "
        "`driver: {name: orchestr-lab}`: the hosts are an orchestr lab)",
        "ERROR: molecule/default/molecule.yml:2:12: platforms must be a non-empty list (hint: "
        "e.g. `- {name: node, count: 3, groups: [nodes]}`)",
        "ERROR: molecule/default/molecule.yml: the scenario has no verify playbook: "
        "molecule/default/verify.yml not found (hint: write verify.yml next to molecule.yml, or "
        "name another with provisioner.playbooks.verify)",
    ]
