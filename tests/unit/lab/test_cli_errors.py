"""Bad input to `orchestr lab` ends in one line and a non-zero exit code, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ORCHESTR = str(Path(sys.executable).with_name("orchestr"))


def _run(*args, env_extra=None, tmp_path=None):
    env = {**os.environ, **(env_extra or {})}
    if tmp_path is not None:
        env["ORCHESTR_STATE_DIR"] = str(tmp_path)
    return subprocess.run([ORCHESTR, *args], capture_output=True, text=True, env=env, timeout=60)


def _one_line_error(done):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ERROR: ")
    return lines[0]


@pytest.mark.parametrize("count", ["0", "-3"])
def test_host_count_below_one(count, tmp_path):
    done = _run("lab", "up", "--hosts", count, "--name", "nosuchlab", tmp_path=tmp_path)
    assert "at least 1" in _one_line_error(done)
    assert done.returncode == 5


def test_host_count_beyond_the_range(tmp_path):
    done = _run("lab", "up", "--hosts", "300", "--name", "nosuchlab", tmp_path=tmp_path)
    assert "do not fit in 198.18.0.0/24" in _one_line_error(done)
    done = _run("lab", "up", "--hosts", "253", "--lb", "--name", "nosuchlab", tmp_path=tmp_path)
    assert "room for 253" in _one_line_error(done)


def test_bad_lab_name(tmp_path):
    done = _run("lab", "up", "--name", "Bad_Name", tmp_path=tmp_path)
    assert "bad lab name" in _one_line_error(done)


def test_dockerd_not_running_says_how_to_start_it(tmp_path):
    done = _run(
        "lab", "status", "--name", "nosuchlab",
        env_extra={"DOCKER_HOST": f"unix://{tmp_path}/no-dockerd.sock"}, tmp_path=tmp_path,
    )  # fmt: skip
    line = _one_line_error(done)
    assert "dockerd is not running" in line and "dockerd >/var/log/dockerd.log" in line


@pytest.mark.integration  # needs a running dockerd, though no lab
@pytest.mark.parametrize(
    "args",
    [
        ("lab", "status", "--name", "nosuchlab"),
        ("lab", "kill", "node1", "--name", "nosuchlab"),
        ("lab", "inventory", "--name", "nosuchlab"),
    ],
)
def test_commands_that_need_a_lab_say_there_is_none(args, tmp_path):
    done = _run(*args, tmp_path=tmp_path)
    line = _one_line_error(done)
    assert "no lab named 'nosuchlab' is up" in line
    assert "orchestr lab up --name nosuchlab" in line
