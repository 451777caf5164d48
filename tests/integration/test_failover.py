"""The failover drill on a real lab: 4 replicas on 4 hosts behind the lab's HAProxy, a client
sending requests through it throughout, `orchestr watch --interval 1s` running, and `orchestr dns
serve` answering from the zone the sweeps keep. One host is killed (then restarted), another
partitioned (then healed). Recorded: seconds until HAProxy sends nothing to the dead host,
seconds until 4 healthy replicas serve again and HAProxy and DNS list them, failed client
requests; and after the host returns, its stale copy fenced, never served, replicas still 4."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import LAB_NAME, ORCHESTR

LAB = f"{LAB_NAME}-failover"
LB_PORT = 8080
PLAYBOOK = """
- hosts: nodes
  gather_facts: false
  tasks:
    - orchestr.cluster.service:
        name: web
        image: orchestr-demo:1
        replicas: 4
        max_per_host: 2
        ports: ["31000-31010:80"]
        lb_port: 8080
        stop_timeout: 1
        health: {http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}
"""


class Drill:
    def __init__(self, state: Path, inventory: Path, addresses: dict[str, str], workdir: Path):
        self.state, self.inventory, self.addresses, self.workdir = (
            state,
            inventory,
            addresses,
            workdir,
        )
        self.store = workdir / "orchestr.db"
        self.zone_file = workdir / "zone.db"
        self.playbook = workdir / "site.yml"
        self.playbook.write_text(PLAYBOOK)

    def env(self) -> dict[str, str]:
        return {**os.environ, "ORCHESTR_STATE_DIR": str(self.state),
                "ORCHESTR_STORE": str(self.store), "ORCHESTR_INVENTORY": str(self.inventory),
                "ORCHESTR_ZONE_FILE": str(self.zone_file)}  # fmt: skip

    def run(self, *args: str, check: bool = True, timeout: float = 300):
        done = subprocess.run([ORCHESTR, *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env())  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"orchestr {' '.join(args)} -> {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")  # fmt: skip
        return done

    def lab(self, *args: str):
        return self.run("lab", *args, "--name", LAB)

    def current(self) -> list[dict]:
        rows = json.loads(self.run("ps", "web", "--json").stdout)
        return [r for r in rows if r["current"] and r["state"] == "running"]

    @property
    def lb_url(self) -> str:
        return f"http://{self.addresses['lb1']}:{LB_PORT}/"


class Client(threading.Thread):
    """Requests through HAProxy, back to back: each answer's container and time, each failure."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answers: list[tuple[float, str]] = []  # (time, container)
        self.failures: list[tuple[float, str]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    body = answer.read().decode()
                self.answers.append((time.monotonic(), body.split("container=")[1].split()[0]))
            except OSError as error:
                self.failures.append((time.monotonic(), str(error)))
            time.sleep(0.01)


class Monitor(threading.Thread):
    """HAProxy's view, read every 0.2 s over one kept connection to the LB's runtime API: the
    serving servers (operationally up, not in maintenance) as (name, address) pairs."""

    def __init__(self, drill: Drill):
        super().__init__(daemon=True)
        self.drill = drill
        self.stop = threading.Event()
        self.samples: list[tuple[float, frozenset[tuple[str, str]]]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._poll())
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    async def _poll(self) -> None:
        from orchestr.discovery.haproxy import RuntimeAPI
        from orchestr.inventory import load_inventory
        from orchestr.transport.pool import Pool
        from orchestr.transport.settings import settings_for

        host = load_inventory([str(self.drill.inventory)]).hosts["lb1"]
        async with Pool([settings_for("lb1", host.vars)]) as pool:
            connection = await pool.connection("lb1")
            async with RuntimeAPI(connection) as api:
                while not self.stop.is_set():
                    dump = await api.servers_state_dump()
                    self.samples.append((time.monotonic(), serving(dump)))
                    await asyncio.sleep(0.2)


def serving(dump: str) -> frozenset[tuple[str, str]]:
    """(server, address) of backend web's servers that are up and not in maintenance, from
    `show servers state` (format 1: a version line, then a header naming the columns)."""
    lines = dump.splitlines()
    columns = lines[1].lstrip("#").split() if len(lines) > 1 else []
    at = {name: i for i, name in enumerate(columns)}
    found = set()
    for line in lines[2:]:
        fields = line.split()
        if len(fields) < len(columns) or fields[at["be_name"]] != "web":
            continue
        if fields[at["srv_op_state"]] == "2" and fields[at["srv_admin_state"]] == "0":
            found.add((fields[at["srv_name"]], fields[at["srv_addr"]]))
    return frozenset(found)


def dig_srv(port: int) -> list[str]:
    done = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1",
                           "+time=1", "_web._tcp.orchestr.internal", "SRV"],
                          capture_output=True, text=True)  # fmt: skip
    return sorted(line for line in done.stdout.splitlines() if line.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def drill(lab, tmp_path_factory):
    del lab  # for ORCHESTR_STATE_DIR; this module brings up its own 4 hosts and an LB
    from orchestr.lab.images import ensure_demo_image

    state = Path(os.environ["ORCHESTR_STATE_DIR"])
    run = lambda *a: subprocess.run([ORCHESTR, *a], capture_output=True, text=True, timeout=900)  # noqa: E731
    run("lab", "down", "--name", LAB)
    up = run("lab", "up", "--hosts", "4", "--lb", "--name", LAB)
    assert up.returncode == 0, up.stderr
    status = run("lab", "status", "--json", "--name", LAB)
    addresses = {r["name"]: r["address"] for r in map(json.loads, status.stdout.splitlines())}
    asyncio.run(ensure_demo_image("1"))
    assert run("lab", "load-image", "orchestr-demo:1", "--name", LAB).returncode == 0
    made = Drill(state, Path(up.stdout.strip().splitlines()[-1]), addresses,
                 tmp_path_factory.mktemp("failover"))  # fmt: skip
    made.run("apply", str(made.playbook))
    dns_port = free_port()
    dns = subprocess.Popen([ORCHESTR, "dns", "serve", "--zone-file", str(made.zone_file),
                            "--listen", f"127.0.0.1:{dns_port}"], env=made.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    made.dns_port = dns_port
    deadline = time.monotonic() + 20
    while len(dig_srv(dns_port)) != 4:
        if time.monotonic() > deadline:
            dns.terminate()
            zone = made.zone_file.read_text() if made.zone_file.exists() else "(no zone file)"
            raise AssertionError(f"orchestr dns serve did not answer 4 SRV records:\n{zone}\n"
                                 f"{dns.communicate(timeout=10)[0]}")  # fmt: skip
        time.sleep(0.2)
    yield made
    dns.terminate()
    dns.wait(10)
    run("lab", "down", "--name", LAB)


def _drill(drill: Drill, fault: str, recover: str) -> dict:
    """Fault one host with watch running and a client on the LB; measure; recover; check."""
    before = drill.current()
    assert len(before) == 4
    victim = before[0]
    victim_host = victim["host"]
    assert len(dig_srv(drill.dns_port)) == 4
    watch = subprocess.Popen([ORCHESTR, "watch", "--interval", "1s"], env=drill.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    client = Client(drill.lb_url)
    monitor = Monitor(drill)
    client.start()
    monitor.start()
    dead = drill.addresses[victim_host]
    try:
        time.sleep(3)
        faulted = time.monotonic()
        drill.lab(fault, victim_host)
        away = full = dns_full = None
        while time.monotonic() - faulted < 60 and (full is None or dns_full is None):
            assert monitor.error is None, monitor.error
            for at, servers in monitor.samples:
                if at < faulted:
                    continue
                addresses = {address for _, address in servers}
                if away is None and dead not in addresses:
                    away = at - faulted
                if (
                    full is None
                    and away is not None
                    and len(servers) == 4
                    and dead not in addresses
                ):
                    full = at - faulted
            if dns_full is None:
                records = dig_srv(drill.dns_port)
                if len(records) == 4 and not any(f"{victim_host}." in r for r in records):
                    dns_full = time.monotonic() - faulted
            time.sleep(0.2)
        healed = None not in (away, full, dns_full)
        if not healed:
            raise TimeoutError(f"not healed within 60 s: away={away} full={full} dns={dns_full}")
        time.sleep(2)
        # The host returns with its old copy: fenced by the next sweeps, never served.
        drill.lab(recover, victim_host)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = drill.run("events", "--json").stdout
            if '"kind": "fenced"' in events and victim["name"] in events:
                break
            time.sleep(1)
        else:
            raise AssertionError("the stale copy was not fenced within 60 s")
        time.sleep(2)
    finally:
        client.stop.set()
        monitor.stop.set()
        client.join(10)
        monitor.join(10)
        watch.terminate()
        output, _ = watch.communicate(timeout=30)
        if os.environ.get("ORCHESTR_DRILL_LOG"):
            print(output[-6000:])
    after = drill.current()
    stale = {r["name"].replace(".", "-") for r in before if r["host"] == victim_host}
    served_stale = [c for t, c in client.answers if t > faulted + full and c in stale]
    full = max(full, dns_full)
    figures = {
        "fault": fault, "away_s": round(away, 2), "full_s": round(full, 2),
        "dns_full_s": round(dns_full, 2),
        "requests": len(client.answers), "failed": len(client.failures),
        "served_by": dict(Counter(c for _, c in client.answers)),
    }  # fmt: skip
    print(f"\n{fault} drill: {figures}")
    assert client.failures == [], (client.failures[:5], output[-3000:])
    assert len(after) == 4 and len(dig_srv(drill.dns_port)) == 4
    assert not served_stale
    running = drill.run("lab", "ssh", victim_host, "docker ps --filter label=orchestr.service=web "
                        "--format '{{.Names}}'", "--name", LAB).stdout.split()  # fmt: skip
    assert not {r["name"] for r in before if r["host"] == victim_host} & set(running)
    return figures


# The bounds are 3 s away and 10 s back to full strength; the measured figures are in
# the README. Here twice those bounds guard against regressions without failing on a machine
# that is busy with other work.
AWAY_BOUND, FULL_BOUND = 6.0, 20.0


def test_failover_drill_kill_then_restart(drill: Drill):
    figures = _drill(drill, "kill", "restart")
    assert figures["away_s"] <= AWAY_BOUND and figures["full_s"] <= FULL_BOUND, figures


def test_failover_drill_partition_then_heal(drill: Drill):
    figures = _drill(drill, "partition", "heal")
    assert figures["away_s"] <= AWAY_BOUND and figures["full_s"] <= FULL_BOUND, figures
