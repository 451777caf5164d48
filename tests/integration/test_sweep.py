"""Health sweeps on a real 3-host lab: a healthy sweep (exit 0, Prometheus metrics), a crashed
replica restarted in place, one that keeps failing moved to another host, a sweep that finds
the store locked skips cleanly, a sweep killed mid-way leaves a state the next one completes,
and hosts lost (kill, partition) then back: their replicas relocated, the stale copies fenced,
never more serving replicas than desired."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_NAME, ORCHESTR

LAB = f"{LAB_NAME}-sweep"

PLAYBOOK = """
- hosts: nodes
  gather_facts: false
  tasks:
    - orchestr.cluster.service:
        name: web
        image: orchestr-demo:1
        replicas: 2
        max_per_host: 1
        ports: ["32000-32010:80"]
        stop_timeout: 1
        health: {http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
"""


class Cluster:
    def __init__(self, state: Path, inventory: Path, workdir: Path):
        self.state = state
        self.inventory = inventory
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

    def sweep(self, *extra: str):
        done = self.run("sweep", "--json", *extra, check=False)
        assert done.returncode in (0, 1, 2), done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])

    def sweep_until(self, wanted_exit: int, tries: int = 15, *extra: str) -> list[dict]:
        reports = []
        for _ in range(tries):
            code, report = self.sweep(*extra)
            reports.append(report)
            if code == wanted_exit:
                return reports
            time.sleep(0.5)
        raise AssertionError(f"no sweep exited {wanted_exit}: {reports}")

    def sweep_until_action(self, prefix: str, tries: int = 20, *extra: str) -> list[str]:
        """Sweep until one does an action starting with `prefix`; every action on the way."""
        actions: list[str] = []
        for _ in range(tries):
            _, report = self.sweep(*extra)
            done = [a["text"] for a in report["actions"]]
            actions += done
            if any(a.startswith(prefix) for a in done):
                return actions
            time.sleep(0.5)
        raise AssertionError(f"no sweep did {prefix!r}: {actions}")

    def current(self) -> list[dict]:
        rows = json.loads(self.run("ps", "web", "--json").stdout)
        return [r for r in rows if r["current"] and r["state"] == "running"]

    def lab(self, *args: str):
        return self.run("lab", *args, "--name", LAB)

    def ssh(self, host: str, command: str):
        return self.lab("ssh", host, command)


@pytest.fixture(scope="module")
def cluster(lab, tmp_path_factory) -> Cluster:
    del lab  # for ORCHESTR_STATE_DIR; this module brings up its own 3 hosts
    import asyncio

    from orchestr.lab.images import ensure_demo_image

    state = Path(os.environ["ORCHESTR_STATE_DIR"])
    run = lambda *a: subprocess.run([ORCHESTR, *a], capture_output=True, text=True, timeout=900)  # noqa: E731
    run("lab", "down", "--name", LAB)
    up = run("lab", "up", "--hosts", "3", "--name", LAB)
    assert up.returncode == 0, up.stderr
    asyncio.run(ensure_demo_image("1"))
    loaded = run("lab", "load-image", "orchestr-demo:1", "--name", LAB)
    assert loaded.returncode == 0, loaded.stderr
    made = Cluster(state, Path(up.stdout.strip().splitlines()[-1]),
                   tmp_path_factory.mktemp("sweep"))  # fmt: skip
    made.run("apply", str(made.playbook))
    yield made
    run("lab", "down", "--name", LAB)


def test_a_healthy_sweep_exits_0_and_writes_metrics(cluster: Cluster):
    metrics = cluster.workdir / "orchestr.prom"
    cluster.sweep()  # the first sweep meets the hosts and replicas
    code, report = cluster.sweep("--metrics-file", str(metrics))
    assert code == 0 and report["actions"] == [] and report["problems"] == []
    assert report["services"] == {"web": {"desired": 2, "running": 2, "healthy": 2}}
    text = metrics.read_text()
    assert 'orchestr_service_healthy{service="web"} 2' in text
    assert 'orchestr_service_desired{service="web"} 2' in text
    assert text.count("orchestr_host_up{") == 3 and " 0\n" not in text.split("host_up")[1][:80]
    assert "orchestr_sweep_duration_seconds " in text


def test_a_crashed_replica_is_restarted_in_place(cluster: Cluster):
    victim = cluster.current()[0]
    cluster.ssh(victim["host"], f"docker kill {victim['name']}")
    code, report = cluster.sweep()
    assert code == 1
    assert any(a["kind"] == "restart" and a["container"] == victim["name"]
               and a["host"] == victim["host"] for a in report["actions"]), report  # fmt: skip
    cluster.sweep_until(0)
    names = {r["name"] for r in cluster.current()}
    assert victim["name"] in names  # the same container, on the same host


def test_a_replica_that_keeps_failing_is_moved(cluster: Cluster):
    victim = cluster.current()[0]
    # /healthz becomes a dangling link, and stays one across restarts (start.sh cannot
    # recreate it): only a new container elsewhere is healthy again.
    cluster.ssh(victim["host"], f"docker exec {victim['name']} /bin/busybox sh -c "
                                "'busybox rm -f /www/healthz; busybox ln -s /nope/x /www/healthz'")  # fmt: skip
    actions = cluster.sweep_until_action("migrate ", 20, "--restart-limit", "2")
    cluster.sweep_until(0)
    assert any(a.startswith(f"restart {victim['name']}") for a in actions), actions
    moved = [a for a in actions if a.startswith("migrate ")]
    assert moved and f"unhealthy after 2 restarts on {victim['host']}" in moved[0]
    now = cluster.current()
    assert len(now) == 2 and victim["host"] not in {r["host"] for r in now if
                                                    r["slot"] == victim["slot"]}  # fmt: skip
    events = cluster.run("events", "--json").stdout
    assert '"kind": "relocated"' in events and '"kind": "replica restarted"' in events


def test_a_sweep_skips_while_the_store_is_locked(cluster: Cluster):
    from orchestr.store.lock import StoreLock

    with StoreLock(str(cluster.store)).acquire("sweep", "orchestr sweep (held by the test)"):
        done = cluster.run("sweep", check=False)
    assert done.returncode == 0
    assert "sweep skipped" in done.stderr and "held by the test" in done.stderr


def _serving(cluster: Cluster) -> Counter:
    """Running web containers per slot on every reachable host, stale copies included."""
    found: Counter = Counter()
    for host in ("node1", "node2", "node3"):
        listed = cluster.run("lab", "ssh", host, "docker ps --filter label=orchestr.service=web "
                             "--format '{{.Names}}'", "--name", LAB, check=False)  # fmt: skip
        for name in listed.stdout.split():
            found[name.split(".")[1]] += 1
    return found


def test_a_sweep_killed_midway_is_completed_by_the_next(cluster: Cluster):
    victim = cluster.current()[0]
    cluster.lab("kill", victim["host"])
    # Declared down at once (--host-fall 1), then killed while relocating its replica.
    sweep = subprocess.Popen([ORCHESTR, "sweep", "--host-fall", "1"], env=cluster.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(3.5)
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    cluster.sweep_until(0, 20, "--host-fall", "1")
    now = cluster.current()
    assert len(now) == 2 and victim["host"] not in {r["host"] for r in now}
    assert all(n == 1 for n in _serving(cluster).values())

    cluster.lab("restart", victim["host"])
    reports = cluster.sweep_until(0, 20)
    fenced = [a["text"] for r in reports for a in r["actions"] if a["kind"] == "fence"]
    assert fenced and victim["name"] in fenced[0]
    assert len(cluster.current()) == 2
    assert sorted(_serving(cluster).values()) == [1, 1]  # the stale copy no longer serves


def test_a_partitioned_host_is_replaced_then_fenced_on_heal(cluster: Cluster):
    victim = cluster.current()[0]
    cluster.lab("partition", victim["host"])
    try:
        cluster.sweep_until_action("lost ", 20)
        cluster.sweep_until(0, 20)
        assert len(cluster.current()) == 2
    finally:
        cluster.lab("heal", victim["host"])
    # Back on the network with its old copy still running: the sweep fences it.
    reports = cluster.sweep_until(0, 20)
    fenced = [a["text"] for r in reports for a in r["actions"] if a["kind"] == "fence"]
    assert fenced and victim["name"] in fenced[0]
    assert sorted(_serving(cluster).values()) == [1, 1]
