"""`orchestr image push` on the lab: only the layers each host lacks travel, the image lands with
the local id, a second push sends nothing, a missing local image fails before any host."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.transport_fixtures import orchestr, write_inventory

BASE = "orchestr-demo:1"
IMAGE = "orchestr-demo:itest-transport-2layers"  # only these tests make or use this tag


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def local_layers(image: str) -> list[str]:
    done = docker("image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", image)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture(scope="module")
def two_layer_image():
    """BASE plus one layer, made once on this machine (kept between runs: same id)."""
    if docker("image", "inspect", IMAGE).returncode != 0:
        container = f"orchestr-itest-transport-{os.getpid()}"
        try:
            made = docker("run", "--name", container, BASE, "sh", "-c", "echo 2 > /version")
            assert made.returncode == 0, made.stderr
            committed = docker("commit", container, IMAGE)
            assert committed.returncode == 0, committed.stderr
        finally:
            docker("rm", "-f", container)
    layers = local_layers(IMAGE)
    assert len(layers) == 2 and layers[:1] == local_layers(BASE)
    image_id = docker("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()
    return image_id, layers


def _forget_layers(lab, host: str, layer: str) -> None:
    """Remove from `host` every image holding `layer` (and containers of those images)."""
    script = (
        "for i in $(docker image ls -aq --no-trunc); do "
        "if docker image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' $i "
        f"| grep -q {layer}; then "
        "docker ps -aq --filter ancestor=$i | xargs -r docker rm -f >/dev/null; "
        "docker rmi -f $i >/dev/null 2>&1 || true; fi; done; "
        "docker image ls -aq --no-trunc | xargs -r docker image inspect "
        "--format '{{range .RootFS.Layers}}{{.}} {{end}}'"
    )
    left = lab.ssh(host, script).stdout
    assert layer not in left, left


def _host_image_id(lab, host: str) -> str:
    done = lab.ssh(host, f"docker image inspect --format '{{{{.Id}}}}' {IMAGE}", check=False)
    return done.stdout.strip()


def push(inventory, *args: str):
    run = orchestr("image", "push", IMAGE, "all", "-i", str(inventory), "--json", *args)
    records = {}
    for line in run.lines:
        record = json.loads(line)
        records[record["host"]] = record
    return run, records


def test_push_sends_only_missing_layers_then_nothing(lab, two_layer_image):
    image_id, (base_layer, top_layer) = two_layer_image
    # node1 has the base only; node2 has neither layer.
    for host in ("node1", "node2"):
        _forget_layers(lab, host, top_layer)
    _forget_layers(lab, "node2", base_layer)
    lab.orchestr("lab", "load-image", BASE, "node1")
    assert _host_image_id(lab, "node1") == ""

    run, records = push(lab.inventory)
    assert run.code == 0, run.stdout + run.stderr
    assert sorted(records) == ["node1", "node2"]
    node1, node2 = records["node1"], records["node2"]
    for record in (node1, node2):
        assert record["status"] == "ok"
        assert record["changed"] is True
        assert record["layers_total"] == 2
        assert record["image_id"] == image_id
    assert node1["layers_sent"] == 1
    assert node2["layers_sent"] == 2
    # node1's archive left the base layer's file out; it still carries the top one.
    assert 0 < node1["bytes_sent"] < node2["bytes_sent"]
    assert node2["bytes_sent"] - node1["bytes_sent"] > 1_000_000  # the busybox base layer
    for host in ("node1", "node2"):
        assert _host_image_id(lab, host) == image_id
        version = lab.ssh(host, f"docker run --rm {IMAGE} sh -c 'read v < /version; echo $v'")
        version = version.stdout
        assert version.strip() == "2"

    again_run, again = push(lab.inventory)
    assert again_run.code == 0, again_run.stdout + again_run.stderr
    for host in ("node1", "node2"):
        assert again[host]["status"] == "ok"
        assert again[host]["changed"] is False
        assert again[host]["bytes_sent"] == 0
        assert again[host]["layers_sent"] == 0
        assert again[host]["image_id"] == image_id
    assert "0 B sent" in again_run.stderr


def test_human_output_says_what_was_sent(lab, two_layer_image):
    image_id, (_, top_layer) = two_layer_image
    ready = orchestr("image", "push", IMAGE, "node1", "-i", str(lab.inventory))
    assert ready.code == 0, ready.stdout + ready.stderr
    _forget_layers(lab, "node2", top_layer)
    run = orchestr("image", "push", IMAGE, "all", "-i", str(lab.inventory))
    assert run.code == 0, run.stdout + run.stderr
    assert run.host_lines("node1") == [f"node1 | OK | already has {image_id[:19]}"]
    (line,) = run.host_lines("node2")
    assert line.startswith("node2 | CHANGED | sent ")
    assert "of 2 layers" in line
    assert _host_image_id(lab, "node2") == image_id


def test_missing_local_image_fails_before_touching_hosts(lab, tmp_path):
    # A host that cannot be reached: touching it would report it UNREACHABLE (exit 4).
    inventory = write_inventory(
        tmp_path / "inv.yml", lab,
        {"node1": {}, "ghost": {"ansible_host": "no-such-host.invalid"}},
    )  # fmt: skip
    missing = "orchestr-demo:no-such-tag-itest"
    for args in ([], ["--json"]):
        run = orchestr("image", "push", missing, "all", "-i", str(inventory), *args)
        assert run.code not in (0, 2, 4), run.stdout + run.stderr
        assert run.stdout == ""
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("ERROR: ")
        assert missing in line
        assert "Traceback" not in run.stderr
