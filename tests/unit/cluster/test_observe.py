"""Observe: managed containers read back from `docker inspect` (what orchestr cannot identify is
left alone), and the one-round-trip observe script run for real with `sh` against a fake `docker`,
its output read by parse_observation."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestr.cluster.model import Container, Resources
from orchestr.cluster.observe import (
    CONTAINERS_MARK,
    DOCKER_OK_MARK,
    EXTRA_MARK,
    FACTS_MARK,
    IMAGES_MARK,
    HostObservation,
    observe_hosts,
    observe_script,
    parse_containers,
    parse_observation,
)
from orchestr.transport.base import Unreachable
from orchestr.transport.pool import Pool
from orchestr.transport.settings import settings_for

IMAGE_ID = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"


def labels_for(service: str, slot: str, epoch: int, **extra: str) -> dict[str, str]:
    return {
        "orchestr.managed-by": "orchestr", "orchestr.service": service, "orchestr.slot": slot,
        "orchestr.epoch": str(epoch), "orchestr.spec": "9c1e4b2a7f00", **extra,
    }  # fmt: skip


def inspected(
    name: str,
    labels: dict[str, str] | None,
    *,
    status: str = "running",
    exit_code: int = 0,
    health: str | None = None,
    ip: str = "172.17.0.2",
    restarts: int = 0,
) -> dict[str, Any]:
    """One item of `docker inspect` output, trimmed to the keys docker always writes."""
    state: dict[str, Any] = {
        "Status": status, "Running": status == "running", "Paused": status == "paused",
        "Restarting": status == "restarting", "OOMKilled": False, "Dead": False,
        "Pid": 4242 if status == "running" else 0, "ExitCode": exit_code, "Error": "",
        "StartedAt": "2024-05-01T10:00:00.123456789Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
    }  # fmt: skip
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    return {
        "Id": hashlib.sha256(name.encode()).hexdigest(),
        "Created": "2024-05-01T09:59:59.5Z",
        "Path": "/docker-entrypoint.sh",
        "Args": ["nginx", "-g", "daemon off;"],
        "State": state,
        "Image": IMAGE_ID,
        "Name": f"/{name}",
        "RestartCount": restarts,
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
        "Config": {
            "Hostname": name.replace(".", "-"),
            "Image": "app:1",
            "Env": ["ORCHESTR_SERVICE=web", "PATH=/usr/bin"],
            "Labels": labels,
        },
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "30001"}]},
            "Networks": {"bridge": {"IPAddress": ip, "Gateway": "172.17.0.1"}},
        },
    }


def without(labels: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != key}


def inspect_output() -> list[dict[str, Any]]:
    reserving = labels_for(
        "web", "2", 3, **{"orchestr.cpus": "0.5", "orchestr.memory-mb": "256",
                          "orchestr.ports": "80:30001,443:8443", "team": "core"},
    )  # fmt: skip
    return [
        inspected("web.2.e3", reserving, health="healthy"),
        inspected(
            "web.1.e1", labels_for("web", "1", 1), status="exited", exit_code=137, ip="", restarts=3
        ),
        inspected("agent.node1.e4", labels_for("agent", "node1", 4), status="restarting"),
        # Not ours: no labels at all, another manager's, and our label with another value.
        inspected("postgres", None),
        inspected("other", {"com.docker.compose.project": "shop"}),
        inspected("lookalike", {**labels_for("web", "3", 1), "orchestr.managed-by": "someone"}),
        # Ours but damaged: an epoch that is no number, no slot, no service.
        inspected("web.4.ex", labels_for("web", "4", 0, **{"orchestr.epoch": "x"})),
        inspected("web.5.e1", without(labels_for("web", "5", 1), "orchestr.slot")),
        inspected("web.6.e1", without(labels_for("web", "6", 1), "orchestr.service")),
    ]


EXPECTED = (
    Container(
        host="node1", name="agent.node1.e4", service="agent", slot="node1", epoch=4,
        spec_hash="9c1e4b2a7f00", state="restarting", started_at="2024-05-01T10:00:00.123456789Z",
        image="app:1", address="172.17.0.2", id=inspected("agent.node1.e4", None)["Id"],
    ),
    Container(
        host="node1", name="web.1.e1", service="web", slot="1", epoch=1,
        spec_hash="9c1e4b2a7f00", state="exited", exit_code=137, restart_count=3,
        started_at="2024-05-01T10:00:00.123456789Z", image="app:1", address="",
        id=inspected("web.1.e1", None)["Id"],
    ),
    Container(
        host="node1", name="web.2.e3", service="web", slot="2", epoch=3,
        spec_hash="9c1e4b2a7f00", state="running", health="healthy",
        started_at="2024-05-01T10:00:00.123456789Z", image="app:1",
        reserved=Resources(0.5, 256), ports=((80, 30001), (443, 8443)), address="172.17.0.2",
        id=inspected("web.2.e3", None)["Id"],
    ),
)  # fmt: skip


def test_parse_containers_reads_managed_containers_and_ignores_the_rest():
    text = json.dumps(inspect_output(), indent=4)
    assert parse_containers("node1", text) == EXPECTED


def test_parse_containers_sorts_by_name_whatever_the_input_order():
    items = inspect_output()
    assert parse_containers("node1", json.dumps(items[::-1])) == EXPECTED


def test_parse_containers_of_nothing():
    assert parse_containers("node1", "") == ()
    assert parse_containers("node1", " \n") == ()
    assert parse_containers("node1", "[]") == ()


def test_parse_containers_with_missing_sections():
    sparse = {"Name": "/web.1.e2", "Config": {"Labels": labels_for("web", "1", 2)}}
    (container,) = parse_containers("h", json.dumps([sparse]))
    assert container == Container(
        host="h", name="web.1.e2", service="web", slot="1", epoch=2, spec_hash="9c1e4b2a7f00",
        state="unknown",
    )  # fmt: skip


@pytest.mark.parametrize("damage", [{"orchestr.cpus": "lots"}, {"orchestr.memory-mb": "1G"}])
def test_a_damaged_reservation_label_leaves_the_container_out(damage):
    items = [inspected("web.1.e1", labels_for("web", "1", 1)),
             inspected("web.2.e1", labels_for("web", "2", 1, **damage))]  # fmt: skip
    names = [c.name for c in parse_containers("h", json.dumps(items))]
    assert names == ["web.1.e1"]


# -- the observe script -------------------------------------------------------------------------


def test_observe_script_asks_for_managed_containers_and_each_image():
    text = observe_script(["app:1", "it's:2"]).render()
    assert f"echo '{CONTAINERS_MARK}'" in text and f"echo '{IMAGES_MARK}'" in text
    assert "docker ps -aq --no-trunc --filter label=orchestr.managed-by=orchestr" in text
    assert '[ -z "$ids" ] || docker inspect $ids' in text
    assert (
        "printf '%s\\t%s\\n' app:1 \"$(docker image inspect -f '{{.Id}}' app:1 2>/dev/null)\""
    ) in text
    assert "'it'\"'\"'s:2'" in text  # quoted for sh
    assert text.index(CONTAINERS_MARK) < text.index(IMAGES_MARK)


FAKE_DOCKER = r"""#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1" in
  version) [ -n "$FAKE_NO_DAEMON" ] && exit 1; echo 24.0.7 ;;
  ps)
    case "$2" in
      -q) echo aaa; echo bbb ;;
      --format) echo "0.0.0.0:30001->80/tcp, :::30001->80/tcp"; echo "" ;;
      -aq) [ -n "$FAKE_NONE" ] || { echo id1; echo id2; } ;;
    esac ;;
  inspect) cat "$FAKE_INSPECT" ;;
  image)
    if [ "$5" = "app:1" ]; then echo "$FAKE_IMAGE_ID"; else echo "Error: No such image: $5" >&2; exit 1; fi ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` first on PATH that answers the observe script from files; it logs its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    inspect = tmp_path / "inspect.json"
    inspect.write_text(json.dumps(inspect_output(), indent=4) + "\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "docker.log"))
    monkeypatch.setenv("FAKE_INSPECT", str(inspect))
    monkeypatch.setenv("FAKE_IMAGE_ID", IMAGE_ID)
    return tmp_path


def run_observe(images: list[str]) -> str:
    done = subprocess.run(
        ["sh", "-c", observe_script(images).render()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_observe_round_trip_through_sh(fake_docker):
    observation = parse_observation("node1", run_observe(["app:1", "app:missing"]))
    assert observation.host == "node1"
    assert observation.docker_ok
    assert observation.facts.docker_version == "24.0.7"
    assert observation.facts.containers_running == 2
    assert 30001 in observation.facts.ports_in_use
    assert observation.facts.cpus >= 1
    assert observation.containers == EXPECTED
    assert observation.images == {"app:1": IMAGE_ID, "app:missing": ""}
    calls = (fake_docker / "docker.log").read_text().splitlines()
    assert "ps -aq --no-trunc --filter label=orchestr.managed-by=orchestr" in calls
    assert "inspect id1 id2" in calls
    assert "image inspect -f {{.Id}} app:missing" in calls


def test_observe_without_managed_containers_or_images(fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_NONE", "1")
    observation = parse_observation("node1", run_observe([]))
    assert observation.containers == () and observation.images == {}
    calls = (fake_docker / "docker.log").read_text().splitlines()
    assert not any(call.startswith("inspect") for call in calls)


def test_observe_a_host_whose_docker_does_not_answer(fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_NO_DAEMON", "1")
    monkeypatch.setenv("FAKE_NONE", "1")
    observation = parse_observation("node1", run_observe(["app:1"]))
    assert observation.facts.docker_version == ""
    assert not observation.docker_ok
    assert observation.containers == ()


def test_parse_observation_of_a_written_output():
    facts = (
        "os=Debian GNU/Linux 12 (bookworm)\nos_id=debian\nos_version=12\nkernel=6.1.0\n"
        "arch=x86_64\nhostname=node2\ncpus=4\nmemory_kb=8388608\nmemory_available_kb=4194304\n"
        "docker=26.1.0\ncontainers=1\ntcp_listen=0016 1F90 \n"
        "docker_ports=0.0.0.0:30001->80/tcp, :::30001->80/tcp \n"
    )  # fmt: skip
    stdout = (
        CONTAINERS_MARK + "\n" + DOCKER_OK_MARK + "\n" + json.dumps(inspect_output()[:1]) + "\n"
        + FACTS_MARK + "\n" + facts + IMAGES_MARK + "\n" + f"app:1\t{IMAGE_ID}\napp:2\t\n"
        + EXTRA_MARK + "\n"
    )  # fmt: skip
    observation = parse_observation("node2", stdout)
    assert observation.facts.hostname == "node2"
    assert observation.facts.cpus == 4 and observation.facts.memory_mb == 8192
    assert observation.facts.ports_in_use == (22, 8080, 30001)
    assert [c.name for c in observation.containers] == ["web.2.e3"]
    assert observation.containers[0].host == "node2"
    assert observation.images == {"app:1": IMAGE_ID, "app:2": ""}


def test_parse_observation_of_a_cut_output():
    cut = f"{CONTAINERS_MARK}\n{DOCKER_OK_MARK}\n{FACTS_MARK}\ndocker=25.0\n"
    observation = parse_observation("node3", cut)
    assert observation.docker_ok
    assert observation.containers == () and observation.images == {}


def test_a_light_observation_keeps_the_known_facts_and_sees_docker_fail():
    known = parse_observation("node3", f"{FACTS_MARK}\ndocker=25.0\ncpus=2\n").facts
    answered = parse_observation("node3", f"{CONTAINERS_MARK}\n{DOCKER_OK_MARK}\n", known)
    assert answered.docker_ok and answered.facts.cpus == 2
    silent = parse_observation("node3", f"{CONTAINERS_MARK}\n", known)
    assert not silent.docker_ok and silent.facts.cpus == 2


async def test_observe_hosts_maps_each_host_to_its_observation_or_error(fake_docker):
    settings = [
        settings_for("h1", {"ansible_connection": "local"}),
        settings_for("h2", {"ansible_connection": "local"}),
        settings_for("h3", {"ansible_connection": "winrm"}),
    ]
    async with Pool(settings) as pool:
        seen = await observe_hosts(pool, ["h1", "h2", "h3"], images=["app:1"])
    assert list(seen) == ["h1", "h2", "h3"]
    for name in ("h1", "h2"):
        observation = seen[name]
        assert isinstance(observation, HostObservation)
        assert observation.host == name
        assert [c.host for c in observation.containers] == [name] * 3
        assert observation.images == {"app:1": IMAGE_ID}
    assert isinstance(seen["h3"], Unreachable)
