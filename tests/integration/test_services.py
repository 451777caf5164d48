"""Services on a real 3-host lab: placement with spread and anti-affinity, an idempotent second
apply, a rolling update under client load, automatic rollback of a bad image, the store's lock
between two applies, and the day-2 commands (scale, drain, rollback, status, ps, history)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_NAME, ORCHESTR

LAB = f"{LAB_NAME}-svc"
BAD_IMAGE = "orchestr-demo:bad"

PLAYBOOK = """
- hosts: nodes
  gather_facts: false
  tasks:
    - name: database
      orchestr.cluster.service:
        name: db
        image: orchestr-demo:1
        replicas: 1
        constraints: ["zone == a"]
    - name: api
      orchestr.cluster.service:
        name: api
        image: "{{ image | default('orchestr-demo:1') }}"
        replicas: "{{ replicas | default(6) }}"
        ports: ["31000-31010:80"]
        preferences: [zone]
        anti_affinity: [db]
        max_per_host: 3
        env: {API_TOKEN: hunter2, MODE: demo}
        health: {http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
        update: {parallelism: 2, order: start-first, monitor: 2s}
"""


class Cluster:
    def __init__(self, state: Path, inventory: Path, addresses: dict[str, str], workdir: Path):
        self.state = state
        self.inventory = inventory
        self.addresses = addresses
        self.workdir = workdir
        self.store = workdir / "orchestr.db"
        self.playbook = workdir / "site.yml"
        self.playbook.write_text(PLAYBOOK)

    def env(self) -> dict[str, str]:
        return {**os.environ, "ORCHESTR_STATE_DIR": str(self.state),
                "ORCHESTR_STORE": str(self.store), "ORCHESTR_INVENTORY": str(self.inventory)}  # fmt: skip

    def run(self, *args: str, check: bool = True, timeout: float = 300):
        done = subprocess.run([ORCHESTR, *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env())  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"orchestr {' '.join(args)} -> {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")  # fmt: skip
        return done

    def apply(self, *extra: str, check: bool = True):
        return self.run("apply", str(self.playbook), *extra, check=check)

    def replicas(self, service: str) -> list[dict]:
        return json.loads(self.run("ps", service, "--json").stdout)

    def ssh(self, host: str, command: str):
        return self.run("lab", "ssh", host, command, "--name", LAB)


@pytest.fixture(scope="module")
def cluster(lab, tmp_path_factory) -> Cluster:
    """Three hosts in zones a, b, c with the demo images v1, v2 and a bad one loaded."""
    del lab  # the session lab sets ORCHESTR_STATE_DIR; this module brings up its own 3 hosts
    state = Path(os.environ["ORCHESTR_STATE_DIR"])
    run = lambda *a: subprocess.run([ORCHESTR, *a], capture_output=True, text=True, timeout=900)  # noqa: E731
    run("lab", "down", "--name", LAB)
    up = run("lab", "up", "--hosts", "3", "--name", LAB)
    assert up.returncode == 0, up.stderr
    inventory = Path(up.stdout.strip().splitlines()[-1])
    status = run("lab", "status", "--json", "--name", LAB)
    addresses = {r["name"]: r["address"] for r in map(json.loads, status.stdout.splitlines())}
    _build_images()
    for image in ("orchestr-demo:1", "orchestr-demo:2", BAD_IMAGE):
        loaded = run("lab", "load-image", image, "--name", LAB)
        assert loaded.returncode == 0, loaded.stderr
    yield Cluster(state, inventory, addresses, tmp_path_factory.mktemp("services"))
    run("lab", "down", "--name", LAB)


def _build_images() -> None:
    import asyncio

    from orchestr.lab.images import ensure_demo_image

    asyncio.run(ensure_demo_image("1"))
    asyncio.run(ensure_demo_image("2", "orchestr-demo:2"))
    if subprocess.run(["docker", "image", "inspect", BAD_IMAGE], capture_output=True).returncode:
        # Starts and stays up, but never serves: its health check can never pass.
        made = subprocess.run(["docker", "create", "--name", "orchestr-bad-src", "orchestr-demo:1"],
                              capture_output=True, text=True)  # fmt: skip
        assert made.returncode == 0, made.stderr
        try:
            commit = subprocess.run(
                ["docker", "commit", "--change", 'CMD ["/bin/sh", "-c", "sleep 100000"]',
                 "orchestr-bad-src", BAD_IMAGE], capture_output=True, text=True)  # fmt: skip
            assert commit.returncode == 0, commit.stderr
        finally:
            subprocess.run(["docker", "rm", "-f", "orchestr-bad-src"], capture_output=True)


def _current(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["current"] and r["state"] == "running"]


class Client(threading.Thread):
    """Polls the service throughout, as a load balancer would: round robin over the replicas it
    knows (refreshed from `orchestr ps` every 0.5 s), and on a refused or failed request it tries
    the next replica (up to 3), as HAProxy's retries + redispatch do. A request fails only when
    no replica answered."""

    def __init__(self, cluster: Cluster, service: str):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.service = service
        self.endpoints: list[str] = []
        self.stop = threading.Event()
        self.ok = 0
        self.failed = 0
        self.retried = 0
        self.versions: Counter[str] = Counter()
        self.refresher = threading.Thread(target=self._refresh, daemon=True)

    def _endpoints(self) -> list[str]:
        rows = _current(self.cluster.replicas(self.service))
        found = []
        for row in rows:
            for mapping in row["ports"]:
                found.append(
                    f"http://{self.cluster.addresses[row['host']]}:{mapping.split('->')[0]}/"
                )
        return found

    def _refresh(self) -> None:
        while not self.stop.is_set():
            # A refresh that failed keeps the last list: it is not a failed request.
            with contextlib.suppress(AssertionError, json.JSONDecodeError):
                self.endpoints = self._endpoints() or self.endpoints
            self.stop.wait(0.5)

    def run(self) -> None:
        self.endpoints = self._endpoints()
        self.refresher.start()
        turn = 0
        while not self.stop.is_set():
            endpoints = list(self.endpoints)
            for attempt in range(3):
                url = endpoints[(turn + attempt) % len(endpoints)]
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        body = answer.read().decode()
                    self.ok += 1
                    self.versions[body.split("version=")[-1].strip()] += 1
                    break
                except OSError:
                    self.retried += 1
            else:
                self.failed += 1
            turn += 1
            time.sleep(0.02)


def test_deploy_spread_and_anti_affinity(cluster: Cluster):
    first = cluster.apply()
    assert re.search(r"^node1 +: ok=2 +changed=2 ", first.stdout, re.MULTILINE), first.stdout
    db = _current(cluster.replicas("db"))
    assert [r["host"] for r in db] == ["node1"]  # zone == a
    api = _current(cluster.replicas("api"))
    per_host = Counter(r["host"] for r in api)
    # Hard anti-affinity with db keeps api off node1; spread over zones b and c.
    assert per_host == {"node2": 3, "node3": 3}
    assert {r["slot"] for r in api} == {str(i) for i in range(1, 7)}
    for row in api:
        body = (
            urllib.request.urlopen(
                f"http://{cluster.addresses[row['host']]}:{row['ports'][0].split('->')[0]}/",
                timeout=3,
            )
            .read()
            .decode()
        )
        assert f"container=api-{row['slot']}-e{row['epoch']}" in body
    # The secret is in the container, never in what orchestr printed.
    assert "hunter2" not in first.stdout + first.stderr
    env = cluster.ssh("node2", "docker inspect -f '{{.Config.Env}}' api.1.e1").stdout
    assert "API_TOKEN=hunter2" in env


def test_second_apply_changes_nothing(cluster: Cluster):
    started = time.monotonic()
    again = cluster.apply("--json")
    took = time.monotonic() - started
    events = [json.loads(line) for line in again.stdout.splitlines()]
    results = [e for e in events if e["event"] == "host_result"]
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert all(r["registered"]["plan"] == {} for r in results)
    print(f"second apply of 2 services on 3 hosts, whole process: {took:.2f}s")


def test_check_mode_shows_the_plan_and_changes_nothing(cluster: Cluster):
    before = cluster.replicas("api")
    planned = cluster.run("plan", str(cluster.playbook), "-e", "image=orchestr-demo:2")
    assert planned.stdout.count("update   api slot") == 6
    assert '-    "image": "orchestr-demo:1",' in planned.stdout
    assert "hunter2" not in planned.stdout
    assert cluster.replicas("api") == before


def test_rolling_update_under_load_fails_no_request(cluster: Cluster):
    client = Client(cluster, "api")
    client.start()
    time.sleep(1.5)
    update = cluster.apply("-e", "image=orchestr-demo:2")
    time.sleep(1.5)
    client.stop.set()
    client.join(10)
    assert re.search(r"^node1 +: ok=2 +changed=1 ", update.stdout, re.MULTILINE), update.stdout
    api = _current(cluster.replicas("api"))
    assert len(api) == 6 and all(r["up_to_date"] for r in api)
    print(f"client during the update: {client.ok} ok, {client.failed} failed, "
          f"{client.retried} retried on another replica, versions {dict(client.versions)}")  # fmt: skip
    assert client.failed == 0
    assert client.versions["1"] > 0 and client.versions["2"] > 0  # it really ran throughout
    history = cluster.run("history", "api", "--json")
    assert [d["status"] for d in json.loads(history.stdout)] == ["succeeded", "succeeded"]


def test_bad_image_rolls_back_automatically(cluster: Cluster):
    bad = cluster.apply("-e", f"image={BAD_IMAGE}", check=False)
    assert bad.returncode == 2, bad.stdout
    assert "did not become healthy" in bad.stdout
    assert "rolled back to deploy #2" in bad.stdout
    api = _current(cluster.replicas("api"))
    assert len(api) == 6
    assert all(r["up_to_date"] for r in api)
    for row in api:  # every replica serves version 2 again
        url = f"http://{cluster.addresses[row['host']]}:{row['ports'][0].split('->')[0]}/"
        assert "version=2" in urllib.request.urlopen(url, timeout=3).read().decode()
    listed = cluster.run("ps", "api").stdout
    assert BAD_IMAGE not in listed
    statuses = [d["status"] for d in json.loads(cluster.run("history", "api", "--json").stdout)]
    assert statuses[-2:] == ["rolled back", "succeeded"]


def test_concurrent_applies_one_waits(cluster: Cluster):
    # The first apply rolls the api back to v1 (2 batches with a 2 s monitor: several seconds).
    slow = subprocess.Popen([ORCHESTR, "apply", str(cluster.playbook)], env=cluster.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.0)
    refused = cluster.apply("-e", "image=orchestr-demo:2", check=False)
    assert refused.returncode == 1
    assert "locked by pid" in refused.stderr and "--lock-wait" in refused.stderr
    waited = cluster.apply("--lock-wait", "120")  # waits for the first, then finds v1 in place
    first_out, _ = slow.communicate(timeout=300)
    assert slow.returncode == 0, first_out
    assert re.search(r"^node1 +: ok=2 +changed=1 ", first_out, re.MULTILINE), first_out
    assert re.search(r"^node1 +: ok=2 +changed=0 ", waited.stdout, re.MULTILINE), waited.stdout


def test_scale_drain_undrain_and_rollback_commands(cluster: Cluster):
    scaled = cluster.run("scale", "api=4")
    assert scaled.stdout.count("(slot") == 2  # slots 5 and 6 stopped
    assert len(_current(cluster.replicas("api"))) == 4
    status = json.loads(cluster.run("status", "--json").stdout)
    api = next(s for s in status["services"] if s["name"] == "api")
    assert (api["desired"], api["running"], api["healthy"]) == (4, 4, 4)

    # node1 runs db (api's hard anti-affinity) and node2 takes 3 api at most: draining node3
    # would leave a replica nowhere to go, so the drain refuses and changes nothing.
    refused = cluster.run("drain", "node3", check=False)
    assert refused.returncode == 2
    assert "refusing to drain node3" in refused.stderr and "max_per_host 3" in refused.stderr
    assert not json.loads(cluster.run("status", "--json").stdout)["hosts"][2]["drained"]

    cluster.run("scale", "api=3")
    drained = cluster.run("drain", "node3")
    assert "node3: drained" in drained.stdout
    api = _current(cluster.replicas("api"))
    assert {r["host"] for r in api} == {"node2"} and len(api) == 3
    hosts = {h["name"]: h for h in json.loads(cluster.run("status", "--json").stdout)["hosts"]}
    assert hosts["node3"]["drained"] and hosts["node3"]["containers"] == 0

    too_many = cluster.run("scale", "api=4", check=False)
    assert too_many.returncode == 2 and "nothing changed" in too_many.stdout
    assert len(_current(cluster.replicas("api"))) == 3

    cluster.run("undrain", "node3")
    rolled = cluster.run("rollback", "api", "--to", "2")
    assert "rolling back to deploy #2 (orchestr-demo:2)" in rolled.stdout
    api = _current(cluster.replicas("api"))
    assert len(api) == 6 and all(r["up_to_date"] for r in api)  # deploy #2 had 6 replicas
    assert Counter(r["host"] for r in api) == {"node2": 3, "node3": 3}
    logs = cluster.run("logs", "api", "-n", "1")
    assert "api.1@" in logs.stdout
