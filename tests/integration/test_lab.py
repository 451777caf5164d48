"""The lab, for real: SSH and docker on every host, published ports, faults, reshaping, teardown."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from orchestr.lab.lab import lab_run
from orchestr.lab.model import LabHost
from orchestr.transport.base import Unreachable
from orchestr.transport.ssh import KeyCache
from tests.integration.conftest import BIN, ORCHESTR, Lab

CONNECT_TIMEOUT = 2.0


async def _answers(lab: Lab, host: str, timeout: float = CONNECT_TIMEOUT) -> str:
    """Host name reported over SSH with strict host-key checking; raises Unreachable."""
    target = LabHost(lab.name, host, "node", lab.addresses[host])
    command = "hostname && docker info --format '{{.ID}}'"
    result = await lab_run(lab.name, target, KeyCache(), command, timeout)
    assert result.ok, result.stderr
    return result.stdout.split()[0]


async def _unreachable_within(lab: Lab, host: str, timeout: float) -> float:
    started = time.monotonic()
    with pytest.raises(Unreachable):
        await _answers(lab, host, timeout)
    return time.monotonic() - started


def _container_state(lab: Lab, host: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.Status}}", f"orchestr-{lab.name}-{host}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _http_get(url: str, timeout: float = 3.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


async def test_every_host_answers_ssh_and_docker(lab):
    assert sorted(lab.addresses) == ["node1", "node2"]
    for host in lab.addresses:
        assert await _answers(lab, host) == host


def test_ansible_uses_the_inventory_unchanged(lab, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        [str(BIN / "ansible"), "all", "-i", str(lab.inventory), "-m", "ping"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count('"ping": "pong"') == 2


def test_known_hosts_is_enforced(lab, tmp_path):
    """A host key that does not match known_hosts is refused, never accepted silently."""
    wrong = tmp_path / "known_hosts"
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZ0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5dA"
    wrong.write_text(f"{lab.addresses['node1']} {other_key}\n")
    done = subprocess.run(
        ["ssh", "-i", lab.private_key, "-o", f"UserKnownHostsFile={wrong}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
         f"root@{lab.addresses['node1']}", "true"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in done.stderr or "verification failed" in done.stderr


def test_published_port_of_a_container_on_a_lab_host(lab):
    lab.orchestr("lab", "load-image", "orchestr-demo:1", "node1")
    lab.ssh(
        "node1",
        "docker rm -f web >/dev/null 2>&1; "
        "docker run -d --name web -p 18080:80 -e ORCHESTR_HOST=node1 orchestr-demo:1",
    )
    address = lab.addresses["node1"]
    deadline = time.monotonic() + 15
    while True:
        try:
            status, body = _http_get(f"http://{address}:18080/")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert status == 200
    assert body.startswith("host=node1 container=") and "version=1" in body
    assert _http_get(f"http://{address}:18080/healthz") == (200, "OK\n")


async def test_pause_freezes_ssh_until_resume(lab):
    lab.orchestr("lab", "pause", "node2")
    try:
        elapsed = await _unreachable_within(lab, "node2", CONNECT_TIMEOUT)
        assert elapsed < CONNECT_TIMEOUT + 1.5
        assert _container_state(lab, "node2") == "paused"
        assert await _answers(lab, "node1") == "node1"  # the other host is not affected
        status = lab.orchestr("lab", "status", "--json", check=False)
        assert status.returncode == 4
        rows = {r["name"]: r for r in map(json.loads, status.stdout.splitlines())}
        assert rows["node2"]["state"] == "paused" and not rows["node2"]["ssh_ok"]
        assert rows["node1"]["ssh_ok"] and rows["node1"]["docker_ok"]
    finally:
        lab.orchestr("lab", "resume", "node2")
    assert await _answers(lab, "node2") == "node2"


async def test_partition_cuts_controller_and_peers_until_heal(lab):
    node2 = lab.addresses["node2"]
    probe = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{node2}/22' && echo open || echo closed"
    assert lab.ssh("node1", probe).stdout.strip() == "open"
    lab.orchestr("lab", "partition", "node2")
    try:
        await _unreachable_within(lab, "node2", CONNECT_TIMEOUT)
        assert lab.ssh("node1", probe).stdout.strip() == "closed"
        # Still running: reachable through docker, not through the network.
        assert _container_state(lab, "node2") == "running"
        inside = subprocess.run(
            ["docker", "exec", f"orchestr-{lab.name}-node2", "docker", "info", "--format", "ok"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert inside.stdout.strip() == "ok"
    finally:
        lab.orchestr("lab", "heal", "node2")
    assert await _answers(lab, "node2") == "node2"
    assert lab.ssh("node1", probe).stdout.strip() == "open"


async def test_kill_then_restart_brings_host_and_its_containers_back(lab):
    lab.orchestr("lab", "load-image", "orchestr-demo:1", "node2")
    lab.ssh(
        "node2",
        "docker rm -f keeper >/dev/null 2>&1; "
        "docker run -d --name keeper --restart always orchestr-demo:1",
    )
    lab.orchestr("lab", "kill", "node2")
    assert _container_state(lab, "node2") == "exited"
    await _unreachable_within(lab, "node2", CONNECT_TIMEOUT)
    lab.orchestr("lab", "restart", "node2")
    # Same host key as before (known_hosts unchanged), and its containers survived.
    assert await _answers(lab, "node2") == "node2"
    deadline = time.monotonic() + 20
    while "running" not in (state := lab.ssh(
        "node2", "docker inspect -f '{{.State.Status}}' keeper", check=False
    ).stdout):  # fmt: skip
        assert time.monotonic() < deadline, state
        time.sleep(0.5)


def test_fault_on_unknown_host_is_one_line(lab):
    done = lab.orchestr("lab", "kill", "node9", check=False)
    assert done.returncode == 5
    assert done.stderr.strip() == (
        f"ERROR: lab '{lab.name}' has no host 'node9' (hint: its hosts are: node1, node2)"
    )


def _container_ids(lab: Lab) -> dict[str, str]:
    done = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label=orchestr.lab={lab.name}",
         "--format", '{{.Label "orchestr.lab.host"}} {{.ID}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(line.split() for line in done.stdout.splitlines())


def test_up_is_idempotent_and_reshapes(lab):
    before = _container_ids(lab)
    lab.orchestr("lab", "up", "--hosts", "2")
    assert _container_ids(lab) == before
    grown = lab.orchestr("lab", "up", "--hosts", "3")
    after = _container_ids(lab)
    assert {k: after[k] for k in before} == before and "node3" in after
    assert "node3" in grown.stdout
    lab.orchestr("lab", "up", "--hosts", "2")
    assert _container_ids(lab) == before
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name=orchestr-{lab.name}-node3"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert volumes.strip() == ""


def test_down_leaves_nothing_behind(lab, tmp_path):
    """A second lab, brought up and down: no container, volume, file or cgroup of it remains,
    and the shared network stays for the lab still running."""
    env = {**os.environ, "ORCHESTR_STATE_DIR": str(tmp_path)}

    def orchestr(*args):
        return subprocess.run([ORCHESTR, *args], capture_output=True, text=True, env=env,
                              timeout=300, check=True)  # fmt: skip

    name = f"{lab.name}-down"
    orchestr("lab", "up", "--hosts", "1", "--name", name)
    container_id = subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", f"orchestr-{name}-node1"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    cgroup = f"/sys/fs/cgroup/freezer/docker/{container_id}"
    assert (tmp_path / "labs" / name).is_dir()
    orchestr("lab", "down", "--name", name)
    leftovers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=orchestr.lab={name}"],
        capture_output=True, text=True, check=True,
    ).stdout + subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name=orchestr-{name}-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert leftovers.strip() == ""
    assert not (tmp_path / "labs" / name).exists()
    assert not os.path.exists(cgroup)
    assert subprocess.run(["docker", "network", "inspect", "orchestr-lab"],
                          capture_output=True).returncode == 0  # fmt: skip
