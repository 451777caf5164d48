"""Unit tests of the exec, second-command and image-push scenarios' pure pieces (no lab).

.venv/bin/pytest bench/tests
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

import pytest

from bench.scenarios import common, image_push, second_command
from bench.scripts import pool_rounds

IMAGE_ID = "sha256:" + "ab" * 32


def done(stdout: str, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], 0, stdout, stderr)


# ---------------------------------------------------------------- exec: success lines per host

# What each tool printed for `docker ps -q` on a lab without containers (empty output).
ANSIBLE_COMMAND = "node1 | CHANGED | rc=0 >>\n\nnode2 | CHANGED | rc=0 >>\n\n"
ANSIBLE_RAW = (
    "node1 | CHANGED | rc=0 >>\nShared connection to 198.18.0.6 closed.\n\n"
    "node2 | CHANGED | rc=0 >>\nShared connection to 198.18.0.7 closed.\n\n"
)
ORCHESTR_EXEC = "node2 | CHANGED | rc=0 >>\nnode1 | CHANGED | rc=0 >>\n"
PYINFRA_EXEC = (
    "--> Starting operation: server.shell (docker ps -q)\n"
    "    [node2]  Success\n    [node10] Success\n"
)


@pytest.mark.parametrize("text", [ANSIBLE_COMMAND, ANSIBLE_RAW, ORCHESTR_EXEC])
def test_ansible_style_success_blocks_count_hosts(text):
    assert common.hosts_matching(common.ANSIBLE_OK, text) == {"node1", "node2"}
    assert common.check_pattern(2, common.ANSIBLE_OK, "x")(done(text)) is None
    assert "2 of 3 hosts" in common.check_pattern(3, common.ANSIBLE_OK, "x")(done(text))


def test_ansible_style_failures_are_not_success():
    text = (
        "node1 | FAILED | rc=127 >>\nsh: docker: not found\n"
        "node2 | UNREACHABLE! => {...}\n"
        "node3 | CHANGED | rc=1 >>\n"
        "node4 | CHANGED | rc=0 >> trailing\n"
    )
    assert common.hosts_matching(common.ANSIBLE_OK, text) == set()


def test_pyinfra_success_lines_are_read_from_stderr():
    check = common.check_pattern(2, common.PYINFRA_OK, "pyinfra")
    assert check(done("", PYINFRA_EXEC)) is None
    assert check(done("", PYINFRA_EXEC.replace("[node10] Success", "[node10] Error"))) is not None
    # "Connected" or "Ready" lines are not the operation's success
    assert check(done("", "    [node1]  Connected\n    [node2]  Ready: shell\n")) is not None


def test_bare_ok_lines_need_rc_zero_with_or_without_output():
    text = "198.18.0.2 rc=0 \n198.18.0.3 rc=0\n198.18.0.4 rc=0 abc123\n198.18.0.5 rc=255 refused\n"
    assert common.hosts_matching(common.BARE_OK, text) == {
        "198.18.0.2", "198.18.0.3", "198.18.0.4"
    }  # fmt: skip
    assert common.hosts_matching(common.BARE_OK, "198.18.0.2 rc=01\n") == set()


def test_orchestr_json_hosts_without_a_stdout_pattern_take_any_output():
    rows = [
        {"host": "node1", "status": "ok", "rc": 0, "stdout": "", "stderr": ""},
        {"host": "node2", "status": "failed", "rc": 2, "stdout": "", "stderr": "no"},
    ]
    text = "\n".join(json.dumps(r) for r in rows) + "\nhosts=2 ok=1 failed=1\n"
    assert common.orchestr_json_hosts(text) == {"node1"}


def test_run_counter_keeps_only_measured_runs():
    counter = common.RunCounter(warmup=1)
    counter.started()
    counter.keep("warm-up")
    assert not counter.measuring
    counter.started()
    counter.keep("first")
    counter.started()
    counter.keep("second")
    assert counter.kept == ["first", "second"]
    assert counter.runs == 3


def test_run_checked_raises_with_the_tail_of_stderr():
    assert common.run_checked(["true"], "nothing").returncode == 0
    with pytest.raises(RuntimeError, match=r"step failed \(exit 3\): bad"):
        common.run_checked(["sh", "-c", "echo bad >&2; exit 3"], "step")


# ---------------------------------------------------------------- second-command


def report(hosts=3, handshakes=3, seconds=(0.5, 0.07), ok=None) -> dict:
    return {"hosts": hosts, "handshakes": handshakes, "round_seconds": list(seconds),
            "round_ok": list(ok if ok is not None else [hosts] * len(seconds)), "errors": []}  # fmt: skip


def test_pool_rounds_problem_checks_hosts_rounds_and_handshakes():
    assert pool_rounds.problem(report(), 3, 2) is None
    assert "2 hosts matched" in pool_rounds.problem(report(hosts=2, handshakes=2), 3, 2)
    assert "1 rounds" in pool_rounds.problem(report(seconds=(0.5,)), 3, 2)
    assert "ok per round" in pool_rounds.problem(report(ok=[3, 2]), 3, 2)
    assert "6 handshakes" in pool_rounds.problem(report(handshakes=6), 3, 2)


def test_pool_rounds_parse_report_takes_the_last_json_line():
    text = "warning: something\n" + json.dumps(report()) + "\n"
    assert pool_rounds.parse_report(text)["handshakes"] == 3
    with pytest.raises(ValueError, match="no JSON"):
        pool_rounds.parse_report("Traceback ...\n")


def test_pool_rounds_main_needs_an_inventory():
    with pytest.raises(SystemExit):
        pool_rounds.main([])


def test_round_figures_are_medians_per_round():
    reports = [report(seconds=(0.5, 0.1)), report(seconds=(0.7, 0.05)), report(seconds=(0.6, 0.2))]
    figures = second_command.round_figures(reports)
    assert figures == {"runs": 3, "round_median_seconds": [0.6, 0.1], "handshakes": [3],
                       "hosts": [3]}  # fmt: skip
    assert second_command.round_figures([]) == {}


def test_check_report_keeps_good_measured_reports():
    counter = common.RunCounter(warmup=0)
    check = second_command.check_report(counter, 3, 2)
    counter.started()
    assert check(done(json.dumps(report()))) is None
    assert "handshakes" in check(done(json.dumps(report(handshakes=6))))
    assert "no JSON" in check(done(""))
    assert len(counter.kept) == 1


def test_check_twice_wants_two_blocks_per_host():
    check = second_command.check_twice(2)
    assert check(done(ORCHESTR_EXEC * 2)) is None
    assert "2 success blocks for 2 hosts" in check(done(ORCHESTR_EXEC))
    assert check(done(ORCHESTR_EXEC + ORCHESTR_EXEC.replace("node1", "node2"))) is not None


# ---------------------------------------------------------------- image-push


def test_payload_tar_holds_one_file_with_the_bytes():
    data = bytes(range(256)) * 10
    with tarfile.open(fileobj=io.BytesIO(image_push.payload_tar(data))) as archive:
        (member,) = archive.getmembers()
        assert member.name == "payload.bin" and member.size == len(data)
        assert archive.extractfile(member).read() == data


def row(host: str, **changes) -> dict:
    base = {"host": host, "status": "ok", "changed": True, "layers_sent": 1, "layers_total": 1,
            "bytes_sent": 41_953_280, "image_id": IMAGE_ID, "duration": 2.0}  # fmt: skip
    return {**base, **changes}


WARM = {"changed": False, "layers_sent": 0, "layers_total": 0, "bytes_sent": 0}


def test_push_problem_cold_push_sent_every_layer_with_the_right_id():
    rows = [row("node1"), row("node2")]
    assert image_push.push_problem(rows, 2, IMAGE_ID, cold=True) is None
    assert "1 JSON rows" in image_push.push_problem(rows[:1], 2, IMAGE_ID, cold=True)
    assert "2 JSON rows" in image_push.push_problem([rows[0], rows[0]], 2, IMAGE_ID, cold=True)
    bad = {
        "status failed": row("node2", status="failed", msg="docker load: no space"),
        "image id": row("node2", image_id="sha256:other"),
        "nothing sent": row("node2", **WARM),
        "0 of 1 layers": row("node2", layers_sent=0),
        "1 of 2 layers": row("node2", layers_total=2),
    }
    for reason, wrong in bad.items():
        assert reason in image_push.push_problem([rows[0], wrong], 2, IMAGE_ID, cold=True)


def test_push_problem_second_push_sends_nothing():
    rows = [row("node1", **WARM), row("node2", **WARM)]
    assert image_push.push_problem(rows, 2, IMAGE_ID, cold=False) is None
    resent = [rows[0], row("node2", **{**WARM, "bytes_sent": 512})]
    assert "bytes_sent=512" in image_push.push_problem(resent, 2, IMAGE_ID, cold=False)
    changed = [rows[0], row("node2", **{**WARM, "changed": True})]
    assert "changed=True" in image_push.push_problem(changed, 2, IMAGE_ID, cold=False)


def test_json_rows_skip_other_lines():
    text = json.dumps(row("node1")) + "\nhosts=1 ok=1 in 2.00 s, 40.0 MB sent\n"
    assert image_push.json_rows(text) == [row("node1")]


def test_loaded_hosts_want_rc_zero_and_the_image():
    text = (
        "198.18.0.2 rc=0 Loaded image: orchestr-bench-push:1\n"
        "198.18.0.3 rc=255 Host key verification failed.\n"
        "198.18.0.4 rc=0 Loaded image: orchestr-bench-push:10\n"
        "198.18.0.5 rc=0 Loaded image ID: sha256:abc\n"
    )
    assert image_push.loaded_hosts(text, "orchestr-bench-push:1") == {"198.18.0.2"}


def test_remove_command_fails_while_the_image_is_still_there(tmp_path):
    line = image_push.remove_command("img:1")
    assert line.startswith("docker image rm -f img:1") and line.endswith("/dev/null 2>&1")
    # with a fake `docker`: rm succeeds but inspect still finds it -> the line fails
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\n[ "$2" = inspect ] && exit "${INSPECT_RC}"\nexit 0\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    gone = subprocess.run(["sh", "-c", line], env={**env, "INSPECT_RC": "1"})
    still = subprocess.run(["sh", "-c", line], env={**env, "INSPECT_RC": "0"})
    assert gone.returncode == 0 and still.returncode != 0


def test_build_record_saves_the_scenario_data():
    from datetime import UTC, datetime

    from bench import harness

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    record = harness.build_record(
        scenario="second-command", started=moment, finished=moment, options={}, machine={},
        versions={}, contenders=[], warmup={}, measured={}, baseline=None, floor=None,
        data={"pool_rounds_2": {"round_median_seconds": [0.2, 0.03], "handshakes": [10]}},
    )  # fmt: skip
    assert json.loads(json.dumps(record))["data"]["pool_rounds_2"]["handshakes"] == [10]
