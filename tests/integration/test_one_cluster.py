"""One cluster (issue 12) on a real lab: two playbooks on disjoint hosts, each with a service
behind HAProxy and in DNS. Service `a` (a.yml, candidates node1, lb_port 8091) is applied first;
then, as an operator would, with the CLI: `apply b.yml` (b's candidates node2 and node3, lb_port
8092), a second deploy of b, `scale b=2`, `drain` of a host holding b, `undrain`, `rollback b`,
and one of b's hosts killed and swept until b is relocated.

Throughout, a client polls `a` through the LB (0 failed requests allowed) and a watcher reads `a`'s
A record in the zone file and from `orchestr dns serve` (it must never be missing). After each
step `a` answers through HAProxy, b does too, b's stored hosts and slots never name node1 and no
b container ever exists on node1 (a sweep or drain never places a service outside its own
candidates).

Only observable effects are checked (HTTP, DNS, docker ps on the hosts, exit codes, --json
views), never the wording of orchestr's printed lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_NAME, ORCHESTR
from tests.integration.test_failover import Client, free_port
from tests.integration.test_runbooks import Stack

LAB = f"{LAB_NAME}-onecl"
A_PORT, B_PORT = 8091, 8092
CANDIDATES_B = {"node2", "node3"}
ZONE = "orchestr.internal"

A_PLAYBOOK = """
- hosts: node1
  gather_facts: false
  tasks:
    - orchestr.cluster.service:
        name: a
        image: orchestr-demo:1
        replicas: 1
        ports: ["31000-31019:80"]
        lb_port: 8091
        stop_timeout: 1
        health: {http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
"""

# No max_per_host: with 2 replicas, a drain of one of node2/node3 can put both on the other.
B_PLAYBOOK = """
- hosts: node2:node3
  gather_facts: false
  tasks:
    - orchestr.cluster.service:
        name: b
        image: orchestr-demo:1
        replicas: 1
        ports: ["32000-32019:80"]
        lb_port: 8092
        env: {RELEASE: "{{ release | default('1') }}"}
        stop_timeout: 1
        health: {http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
        update: {parallelism: 1, order: start-first, monitor: 1s}
"""


class OneCluster(Stack):
    """test_runbooks' Stack (env with store and zone file, run, status, replicas, through_lb) on
    this module's lab, with the two playbooks written to its workdir."""

    def __init__(self, state: Path, inventory: Path, addresses: dict[str, str], workdir: Path):
        super().__init__(state, inventory, addresses, workdir)
        self.a_yml = workdir / "a.yml"
        self.b_yml = workdir / "b.yml"
        self.a_yml.write_text(A_PLAYBOOK)
        self.b_yml.write_text(B_PLAYBOOK)
        self.dns_port = 0

    def ssh(self, host: str, command: str, check: bool = True):
        return self.run("lab", "ssh", host, command, "--name", LAB, check=check)

    def lab(self, *args: str):
        return self.run("lab", *args, "--name", LAB)

    def url(self, port: int) -> str:
        return f"http://{self.addresses['lb1']}:{port}/"

    def stored_b(self) -> tuple[set[str], set[str]]:
        """b's stored hosts (its placement candidates) and the hosts of its stored slots."""
        from orchestr.store.store import Store

        with Store.open(str(self.store)) as store:
            stored = store.get_service("b")
            if stored is None:
                return set(), set()
            hosts = getattr(stored, "candidates", None) or stored.hosts
            return set(hosts), {s.host for s in store.slots("b").values() if s.host}

    def containers_on(self, host: str, service: str) -> list[str]:
        """Every container of `service` on `host`, running or not (docker ps -a)."""
        listed = self.ssh(host, f"docker ps -a --filter label=orchestr.service={service} "
                                "--format '{{.Names}}'")  # fmt: skip
        return listed.stdout.split()


def answer(url: str, timeout: float = 3) -> tuple[int, str]:
    """Status and body of one GET (status 0: no HTTP answer at all)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as got:
            return got.status, got.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError as error:
        return 0, str(error)


def wait_answering(url: str, seconds: float) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    while True:
        status, body = answer(url)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.3)


A_RECORD = re.compile(r"^a\s+(?:\d+\s+)?IN\s+A\s+(\S+)", re.MULTILINE)


def dig_a(port: int, name: str) -> tuple[bool, list[str]]:
    """(answered, A records) for `name` from the server on 127.0.0.1:port."""
    done = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1",
                           "+time=1", f"{name}.{ZONE}", "A"],
                          capture_output=True, text=True)  # fmt: skip
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or any(line.startswith(";") for line in lines):
        return False, []
    return True, lines


class Steps:
    """The step under way, for attributing what the watchers saw."""

    def __init__(self):
        self.started: list[tuple[float, str]] = [(time.monotonic(), "apply a.yml")]

    @property
    def current(self) -> str:
        return self.started[-1][1]

    def at(self, moment: float) -> str:
        return [name for start, name in self.started if start <= moment][-1]


class DnsWatcher(threading.Thread):
    """Reads `a`'s A record every 0.1 s, from the zone file and from `orchestr dns serve`: each
    moment it was missing, with the step under way; dig errors (no answer) apart."""

    def __init__(self, cluster: OneCluster, steps: Steps):
        super().__init__(daemon=True)
        self.cluster, self.steps = cluster, steps
        self.stop = threading.Event()
        self.reads = 0
        self.missing: list[tuple[str, str, str]] = []  # (step, source, what was there)
        self.dig_errors: list[str] = []

    def run(self) -> None:
        address = self.cluster.addresses["node1"]
        while not self.stop.is_set():
            try:
                text = self.cluster.zone_file.read_text()
            except FileNotFoundError:
                text = "(no zone file)"
            if address not in A_RECORD.findall(text):
                self.missing.append((self.steps.current, "zone file", text[-600:]))
            answered, records = dig_a(self.cluster.dns_port, "a")
            if not answered:
                self.dig_errors.append(self.steps.current)
            elif address not in records:
                self.missing.append((self.steps.current, "dig", repr(records)))
            self.reads += 1
            self.stop.wait(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[OneCluster]:
    """Three nodes and lb1 with orchestr-demo:1 loaded, a.yml applied, `dns serve` answering.
    A state directory of its own (not the session lab's): this module needs no other lab."""
    import asyncio

    from orchestr.lab.images import ensure_demo_image

    workdir = tmp_path_factory.mktemp("one-cluster")
    state = workdir / "state"
    state.mkdir()
    env = {**os.environ, "ORCHESTR_STATE_DIR": str(state)}
    run = lambda *a: subprocess.run([ORCHESTR, *a], capture_output=True, text=True,  # noqa: E731
                                    timeout=900, env=env)  # fmt: skip
    run("lab", "down", "--name", LAB)
    dns = None
    try:
        up = run("lab", "up", "--hosts", "3", "--lb", "--name", LAB)
        assert up.returncode == 0, up.stdout + up.stderr
        status = run("lab", "status", "--json", "--name", LAB)
        addresses = {r["name"]: r["address"] for r in map(json.loads, status.stdout.splitlines())}
        asyncio.run(ensure_demo_image("1"))
        loaded = run("lab", "load-image", "orchestr-demo:1", "--name", LAB)
        assert loaded.returncode == 0, loaded.stderr
        made = OneCluster(state, Path(up.stdout.strip().splitlines()[-1]), addresses, workdir)
        made.run("apply", str(made.a_yml))
        made.dns_port = free_port()
        dns = subprocess.Popen([ORCHESTR, "dns", "serve", "--zone-file", str(made.zone_file),
                                "--listen", f"127.0.0.1:{made.dns_port}"], env=made.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + 20
        while dig_a(made.dns_port, "a")[1] != [addresses["node1"]]:
            assert time.monotonic() < deadline, "a has no A record after apply a.yml:\n" + (
                made.zone_file.read_text() if made.zone_file.exists() else "(no zone file)"
            )
            time.sleep(0.2)
        assert wait_answering(made.url(A_PORT), 15)[0] == 200, "a does not answer through lb1"
        yield made
    finally:
        if dns is not None:
            dns.terminate()
            dns.wait(10)
        run("lab", "down", "--name", LAB)


def test_two_playbooks_one_cluster(cluster: OneCluster):
    started = time.monotonic()
    steps = Steps()
    client = Client(cluster.url(A_PORT))
    watcher = DnsWatcher(cluster, steps)
    client.start()
    watcher.start()
    node1_b: list[tuple[str, list[str]]] = []
    stored_node1: list[tuple[str, set[str], set[str]]] = []
    timings: dict[str, float] = {}

    def check(name: str) -> None:
        """After a step: a unharmed (client, DNS, one more request), b answering through the
        LB, b never on node1 (stored or running)."""
        assert client.is_alive() and watcher.is_alive(), "a watcher thread died"
        failed = [(steps.at(t), error) for t, error in client.failures]
        assert not failed, (
            f"after `{name}`: {len(failed)} request(s) to a through lb1:{A_PORT} failed "
            f"(of {len(client.answers) + len(failed)}), first: {failed[:3]}"
        )
        assert not watcher.missing, (
            f"after `{name}`: a's A record was missing {len(watcher.missing)} time(s) "
            f"(of {watcher.reads} reads), first: {watcher.missing[:2]}"
        )
        status, body = answer(cluster.url(A_PORT))
        assert status == 200 and "container=a-" in body, (name, status, body)
        hosts, slot_hosts = cluster.stored_b()
        if "node1" in hosts | slot_hosts:
            stored_node1.append((name, hosts, slot_hosts))
        assert not stored_node1, f"b's stored hosts / slots named node1: {stored_node1}"
        on_node1 = cluster.containers_on("node1", "b")
        if on_node1:
            node1_b.append((name, on_node1))
        assert not node1_b, f"b containers on node1 (not one of b's candidates): {node1_b}"
        status, body = wait_answering(cluster.url(B_PORT), 20)
        assert status == 200 and "container=b-" in body, (
            f"after `{name}`: b does not answer through lb1:{B_PORT}: {status} {body[:200]}"
        )

    @contextmanager
    def step(name: str) -> Iterator[None]:
        steps.started.append((time.monotonic(), name))
        began = time.monotonic()
        yield
        timings[name] = round(time.monotonic() - began, 1)
        check(name)

    try:
        time.sleep(1.5)  # the client and the watcher have seen a healthy a
        assert client.answers and watcher.reads, "the watchers did not start"

        with step("orchestr apply b.yml"):
            cluster.run("apply", str(cluster.b_yml))
        with step("orchestr apply b.yml -e release=2"):
            cluster.run("apply", str(cluster.b_yml), "-e", "release=2")
        with step("orchestr scale b=2"):
            cluster.run("scale", "b=2")
            assert len(cluster.replicas("b")) == 2
        b_host = sorted({r["host"] for r in cluster.replicas("b")})[0]
        with step(f"orchestr drain {b_host}"):
            cluster.run("drain", b_host)
            b = cluster.replicas("b")
            assert len(b) == 2 and b_host not in {r["host"] for r in b}, b
        with step(f"orchestr undrain {b_host}"):
            cluster.run("undrain", b_host)
        with step("orchestr rollback b"):
            cluster.run("rollback", "b")

        victim = sorted({r["host"] for r in cluster.replicas("b")})[0]
        assert victim in CANDIDATES_B
        with step(f"orchestr lab kill {victim}, then orchestr sweep until b is relocated"):
            cluster.lab("kill", victim)
            deadline = time.monotonic() + 90
            sweeps = 0
            while True:
                done = cluster.run("sweep", "--host-fall", "1", "--grace", "1", "-T", "3",
                                   check=False)  # fmt: skip
                sweeps += 1
                assert done.returncode in (0, 1, 2), done.stdout + done.stderr
                # -T 3: the dead host costs each look 3 s at most, not the default 10.
                b = [r for r in json.loads(cluster.run("ps", "b", "--json", "-T", "3").stdout)
                     if r["current"] and r["state"] == "running"]  # fmt: skip
                status = json.loads(cluster.run("status", "--json", "-T", "3").stdout)
                desired = next(s["desired"] for s in status["services"] if s["name"] == "b")
                relocated = b and len(b) == desired and victim not in {r["host"] for r in b}
                if relocated and answer(cluster.url(B_PORT))[0] == 200:
                    break
                assert time.monotonic() < deadline, (
                    f"b not relocated off {victim} after {sweeps} sweeps: {b}\n"
                    f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
                )
                time.sleep(0.5)
            survivor = (CANDIDATES_B - {victim}).pop()
            assert {r["host"] for r in b} == {survivor}, b
    finally:
        client.stop.set()
        watcher.stop.set()
        client.join(10)
        watcher.join(10)
        print(f"\none cluster: {len(client.answers)} requests to a, {len(client.failures)} "
              f"failed; {watcher.reads} DNS reads, {len(watcher.missing)} without a's record, "
              f"{len(watcher.dig_errors)} dig errors; steps {timings}; "
              f"{time.monotonic() - started:.1f}s")  # fmt: skip

    # Whole run: nothing missed between the last check and the end.
    assert client.failures == [], client.failures[:5]
    assert watcher.missing == [], watcher.missing[:2]
    assert cluster.containers_on("node1", "b") == []
    hosts, slot_hosts = cluster.stored_b()
    assert "node1" not in hosts | slot_hosts, (hosts, slot_hosts)
