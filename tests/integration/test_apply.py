"""orchestr apply on the lab: the output stream, recap, check mode, JSON events, listing,
validation before any host is touched, and exit codes as ansible-playbook's."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.integration.conftest import ORCHESTR

HERE = Path(__file__).parent / "apply"


def apply(lab, playbook, *args, inventory=None):
    return subprocess.run(
        [ORCHESTR, "apply", str(playbook), "-i", str(inventory or lab.inventory), *args],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def recap(text: str) -> dict[str, dict[str, int]]:
    rows = re.findall(r"^(\S+)\s+: (ok=.*)$", text, re.MULTILINE)
    return {
        host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)} for host, counts in rows
    }


def test_basics_recap_matches_what_ansible_reports(lab):
    done = apply(lab, HERE / "basics.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    counts = recap(done.stdout)
    # Measured with ansible-playbook 2.19 on the same playbook and lab shape.
    assert counts["node1"] == {"ok": 9, "changed": 2, "unreachable": 0, "failed": 0,
                               "skipped": 0, "rescued": 1, "ignored": 0}  # fmt: skip
    assert counts["node2"] == {"ok": 8, "changed": 1, "unreachable": 0, "failed": 0,
                               "skipped": 1, "rescued": 1, "ignored": 0}  # fmt: skip
    assert '"msg": "hello from node1 on Debian"' in done.stdout
    assert "RUNNING HANDLER [done]" in done.stdout


def test_json_events(lab):
    done = apply(lab, HERE / "basics.yml", "--json")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "play_start" and "recap" in kinds and kinds[-1] == "finished"
    results = [e for e in events if e["event"] == "host_result"]
    assert {e["host"] for e in results} == {"node1", "node2"}
    assert {e["status"] for e in results} >= {"ok", "changed", "skipping", "failed"}


def test_check_mode_changes_nothing(lab, tmp_path):
    playbook = tmp_path / "check.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "node1", "gather_facts": False,
        "tasks": [{"name": "write", "copy": {"content": "x\n", "dest": "/tmp/apply-check.txt"}}],
    }]))  # fmt: skip
    lab.ssh("node1", "rm -f /tmp/apply-check.txt")
    done = apply(lab, playbook, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert recap(done.stdout)["node1"]["changed"] == 1
    assert lab.ssh("node1", "test -e /tmp/apply-check.txt", check=False).returncode != 0
    done = apply(lab, playbook)
    assert recap(done.stdout)["node1"]["changed"] == 1
    assert lab.ssh("node1", "cat /tmp/apply-check.txt").stdout == "x\n"
    again = apply(lab, playbook)
    assert recap(again.stdout)["node1"]["changed"] == 0  # idempotent


def test_every_problem_reported_before_any_host_is_touched(lab):
    done = apply(lab, HERE / "broken.yml")
    assert done.returncode == 4
    assert done.stdout == ""  # nothing ran
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(f"ERROR: {HERE / 'broken.yml'}:4:")
    assert "comand" in lines[0] and "did you mean 'command'" in lines[0]
    assert lines[1].startswith(f"ERROR: {HERE / 'broken.yml'}:7:") and "contnet" in lines[1]
    assert "Traceback" not in done.stderr


def test_syntax_check_and_listing(lab):
    done = apply(lab, HERE / "basics.yml", "--syntax-check")
    assert done.returncode == 0 and "playbook:" in done.stdout
    done = apply(lab, HERE / "basics.yml", "--list-hosts")
    assert "hosts (2):" in done.stdout and "node1" in done.stdout
    done = apply(lab, HERE / "basics.yml", "--list-tasks")
    assert "say hi" in done.stdout and "show it" in done.stdout


def test_failed_and_unreachable_exit_codes(lab, tmp_path):
    playbook = tmp_path / "fail.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False,
                                         "tasks": [{"command": "false"}]}]))  # fmt: skip
    done = apply(lab, playbook)
    assert done.returncode == 2
    assert recap(done.stdout)["node1"]["failed"] == 1
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "ghost": {
                            "ansible_host": lab.addresses["node1"],
                            "ansible_port": 2,
                            "ansible_user": "root",
                        }
                    }
                }
            }
        )
    )
    done = apply(lab, playbook, "-T", "3", inventory=inventory)
    assert done.returncode == 4
    assert recap(done.stdout)["ghost"]["unreachable"] == 1
    assert "UNREACHABLE!" in done.stdout


def test_demo_playbook_ships_runs_and_is_idempotent(lab):
    """playbooks/demo.yml (what `make demo` runs): image shipped without a registry, container
    started and answering; a second run changes nothing."""
    demo = Path(__file__).parents[2] / "playbooks" / "demo.yml"
    lab.ssh(
        "node2",
        "docker rm -f demo >/dev/null 2>&1; docker rmi orchestr-demo:1 >/dev/null 2>&1; true",
    )
    first = apply(lab, demo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["node2"]["changed"] == 2  # image shipped, container created
    assert '"msg": "host=node2 container=' in first.stdout
    second = apply(lab, demo)
    assert second.returncode == 0
    assert {counts["changed"] for counts in recap(second.stdout).values()} == {0}
