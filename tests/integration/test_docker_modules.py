"""docker_container, docker_image and docker_network on real lab hosts, checked against the
behaviour community.docker documents (ansible-core ships no docker modules, and the collection
is not installed here, so ansible-playbook cannot be the oracle for these): create -> changed,
the same again -> ok, a changed option -> recreated, stopped/absent honoured, check mode inert."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tests.integration.conftest import ORCHESTR

IMAGE = "orchestr-demo:1"


def apply(lab, tmp_path, tasks, *args):
    playbook = tmp_path / "docker.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "node1", "gather_facts": False, "tasks": tasks}]))
    done = subprocess.run([ORCHESTR, "apply", str(playbook), "-i", str(lab.inventory), *args],
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert "Traceback" not in done.stderr
    return done


def changed(done) -> int:
    match = re.search(r"^node1\s+: ok=\d+\s+changed=(\d+)", done.stdout, re.MULTILINE)
    assert match, done.stdout + done.stderr
    return int(match.group(1))


def inspect(lab, name):
    out = lab.ssh("node1", f"docker inspect {name} 2>/dev/null || true").stdout
    data = json.loads(out) if out.strip() else []
    return data[0] if data else None


def container(env_value: str, **extra):
    spec = {"name": "itest-web", "image": IMAGE, "published_ports": ["18081:80"],
            "env": {"MODE": env_value}, "restart_policy": "unless-stopped", **extra}  # fmt: skip
    return [{"name": "web", "docker_container": spec}]


def test_image_then_container_lifecycle(lab, tmp_path):
    # Other tests may have left containers of the image running: remove them with it.
    lab.ssh(
        "node1",
        f"docker ps -aq --filter ancestor={IMAGE} | xargs -r docker rm -f >/dev/null; "
        f"docker rm -f itest-web >/dev/null 2>&1; docker rmi {IMAGE} >/dev/null 2>&1; true",
    )
    ship = [{"docker_image": {"name": IMAGE, "source": "local"}}]
    assert changed(apply(lab, tmp_path, ship, "--check")) == 1
    assert lab.ssh("node1", f"docker image inspect {IMAGE}", check=False).returncode != 0
    assert changed(apply(lab, tmp_path, ship)) == 1
    assert changed(apply(lab, tmp_path, ship)) == 0

    check = apply(lab, tmp_path, container("a"), "--check", "--diff")
    assert changed(check) == 1 and inspect(lab, "itest-web") is None  # check mode is inert
    assert changed(apply(lab, tmp_path, container("a"))) == 1
    first = inspect(lab, "itest-web")
    assert first["State"]["Running"] and "MODE=a" in first["Config"]["Env"]
    assert first["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert changed(apply(lab, tmp_path, container("a"))) == 0  # idempotent
    assert inspect(lab, "itest-web")["Id"] == first["Id"]

    assert changed(apply(lab, tmp_path, container("b"))) == 1  # env differs: recreated
    second = inspect(lab, "itest-web")
    assert second["Id"] != first["Id"] and "MODE=b" in second["Config"]["Env"]

    assert changed(apply(lab, tmp_path, container("b", state="stopped"))) == 1
    assert not inspect(lab, "itest-web")["State"]["Running"]
    assert changed(apply(lab, tmp_path, container("b", state="stopped"))) == 0

    gone = [{"docker_container": {"name": "itest-web", "state": "absent"}}]
    assert changed(apply(lab, tmp_path, gone)) == 1
    assert inspect(lab, "itest-web") is None
    assert changed(apply(lab, tmp_path, gone)) == 0


def test_pull_is_refused_with_a_hint(lab, tmp_path):
    done = apply(lab, tmp_path, [{"docker_image": {"name": "nginx:latest", "source": "pull"}}])
    assert done.returncode == 2
    assert "source: local" in done.stdout


def test_network_present_absent(lab, tmp_path):
    lab.ssh("node1", "docker network rm itest-net >/dev/null 2>&1; true")
    present = [
        {"docker_network": {"name": "itest-net", "ipam_config": [{"subnet": "198.51.100.0/24"}]}}
    ]
    assert changed(apply(lab, tmp_path, present)) == 1
    assert changed(apply(lab, tmp_path, present)) == 0
    subnet = inspect(lab, "itest-net")["IPAM"]["Config"][0]["Subnet"]
    assert subnet == "198.51.100.0/24"
    absent = [{"docker_network": {"name": "itest-net", "state": "absent"}}]
    assert changed(apply(lab, tmp_path, absent)) == 1
    assert inspect(lab, "itest-net") is None
