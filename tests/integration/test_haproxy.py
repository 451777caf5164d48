"""HAProxy on a real LB host (a lab of two nodes and lb1): the first install starts it and it
balances over both nodes, the same text again changes nothing, a changed snapshot reloads it
while a client loses no request, a config `haproxy -c` rejects leaves the old one serving, and
the runtime API (haproxyadmin over a forwarded socket) takes a server out and back."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from orchestr.cluster.spec_types import HealthSpec
from orchestr.discovery.haproxy import (
    ConfigInvalid,
    HAProxyError,
    InstallResult,
    RuntimeAPI,
    install,
    render_config,
    sync_runtime,
)
from orchestr.discovery.snapshot import Endpoint, ServiceEndpoints, Snapshot
from orchestr.inventory import load_inventory
from orchestr.lab.images import DEMO_IMAGE
from orchestr.transport.pool import Pool
from orchestr.transport.settings import settings_for
from tests.integration.conftest import LAB_NAME, ORCHESTR

LAB = f"{LAB_NAME}-hap"
WEB = "hap-web"
WEB_PORT = 31080
LB_PORT = 8080
NODES = ("node1", "node2")


@dataclasses.dataclass
class Balancer:
    inventory: Path
    addresses: dict[str, str]
    timings: list[tuple[str, InstallResult]] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.addresses['lb1']}:{LB_PORT}/"

    def ssh(self, host: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
        done = _orchestr("lab", "ssh", host, command, "--name", LAB)
        if check:
            assert done.returncode == 0, f"{host}: {command}:\n{done.stdout}{done.stderr}"
        return done

    def snapshot(self, *nodes: str, unhealthy: tuple[str, ...] = ()) -> Snapshot:
        endpoints = tuple(
            Endpoint("web", str(NODES.index(n) + 1), n, self.addresses[n], WEB_PORT,
                     healthy=n not in unhealthy)
            for n in nodes
        )  # fmt: skip
        health = HealthSpec("http", path="/healthz", interval=0.5, timeout=0.5, fall=2, rise=1)
        return Snapshot((ServiceEndpoints("web", 80, LB_PORT, health, endpoints),))

    async def install(self, text: str, label: str) -> InstallResult:
        async with self.pool() as pool:
            result = await install(await pool.connection("lb1"), text)
        self.timings.append((label, result))
        return result

    def pool(self) -> Pool:
        hosts = load_inventory([str(self.inventory)]).select("lb")
        return Pool([settings_for(h.name, h.vars) for h in hosts])

    def worker_pids(self) -> list[str]:
        return self.ssh("lb1", "pgrep -P $(cat /run/haproxy.pid) | sort").stdout.split()

    def sha(self) -> str:
        return self.ssh("lb1", "sha256sum /etc/haproxy/haproxy.cfg").stdout.split()[0]


def _orchestr(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([ORCHESTR, *args], capture_output=True, text=True, timeout=timeout)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


def hosts_answering(url: str, requests: int = 12) -> Counter[str]:
    """Which node served each of `requests` requests (the demo page names its host)."""
    return Counter(get(url).split()[0].removeprefix("host=") for _ in range(requests))


def eventually(what: str, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not true after {timeout} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def balancer(lab) -> Balancer:
    """Two nodes each running the demo app on WEB_PORT, and lb1 with haproxy (not started)."""
    del lab  # the session lab sets ORCHESTR_STATE_DIR; this module brings up its own hosts
    _orchestr("lab", "down", "--name", LAB)
    up = _orchestr("lab", "up", "--hosts", "2", "--lb", "--name", LAB)
    assert up.returncode == 0, up.stderr
    try:
        inventory = Path(up.stdout.strip().splitlines()[-1])
        status = _orchestr("lab", "status", "--json", "--name", LAB)
        addresses = {r["name"]: r["address"] for r in map(json.loads, status.stdout.splitlines())}
        from orchestr.lab.images import ensure_demo_image

        asyncio.run(ensure_demo_image("1"))
        loaded = _orchestr("lab", "load-image", DEMO_IMAGE, *NODES, "--name", LAB)
        assert loaded.returncode == 0, loaded.stderr
        found = Balancer(inventory, addresses)
        for node in NODES:
            run = f"docker run -d --name {WEB} -e ORCHESTR_HOST={node} -p {WEB_PORT}:80"
            found.ssh(node, f"docker rm -f {WEB} >/dev/null 2>&1; {run} {DEMO_IMAGE} >/dev/null")
        for node in NODES:
            url = f"http://{addresses[node]}:{WEB_PORT}/healthz"
            eventually(f"the demo app on {node}", lambda u=url: _answers(u), timeout=30)
        yield found
        for label, result in found.timings:  # shown with -s: what the report quotes
            print(f"{label}: {result.action} in {result.seconds:.3f} s, {result.round_trips} "
                  f"round trips, reload {result.reload_seconds}")  # fmt: skip
    finally:
        _orchestr("lab", "down", "--name", LAB)


def _answers(url: str) -> bool:
    try:
        return get(url).strip() == "OK"
    except OSError:
        return False


async def test_first_install_starts_haproxy_and_balances(balancer: Balancer):
    text = render_config(balancer.snapshot(*NODES))
    result = await balancer.install(text, "first install")
    assert result.action == "started"
    assert result.previous_sha is not None  # the package's own haproxy.cfg, kept as .prev
    assert balancer.ssh("lb1", "cat /etc/haproxy/haproxy.cfg").stdout == text
    assert balancer.ssh("lb1", "sha256sum < /etc/haproxy/haproxy.cfg.prev").stdout.split()[0] == (
        result.previous_sha
    )
    eventually("both nodes answer through lb1", lambda: set(hosts_answering(balancer.url)) ==
               set(NODES))  # fmt: skip


async def test_the_same_text_changes_nothing(balancer: Balancer):
    workers = balancer.worker_pids()
    assert workers
    result = await balancer.install(render_config(balancer.snapshot(*NODES)), "unchanged")
    assert (result.action, result.round_trips, result.changed) == ("unchanged", 1, False)
    assert result.previous_sha == result.sha
    assert balancer.worker_pids() == workers  # no reload


class Client(threading.Thread):
    """Fires requests one after the other through the LB until stopped; counts what failed."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                get(self.url)
                self.ok += 1
            except OSError as error:
                self.failures.append(repr(error))


async def test_a_changed_snapshot_reloads_without_losing_a_request(balancer: Balancer):
    clients = [Client(balancer.url) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        await asyncio.sleep(0.5)
        workers = balancer.worker_pids()
        removed = await balancer.install(render_config(balancer.snapshot("node1")), "reload")
        assert removed.action == "reloaded" and removed.state_saved
        assert balancer.worker_pids() != workers
        assert set(hosts_answering(balancer.url)) == {"node1"}
        restored = await balancer.install(render_config(balancer.snapshot(*NODES)), "reload")
        assert restored.action == "reloaded"
        eventually("node2 back", lambda: set(hosts_answering(balancer.url)) == set(NODES))
        await asyncio.sleep(0.5)
    finally:
        for client in clients:
            client.stop.set()
        for client in clients:
            client.join(timeout=10)
    served = sum(c.ok for c in clients)
    failures = [f for c in clients for f in c.failures]
    assert not failures, f"{len(failures)} of {served + len(failures)} failed: {failures[:3]}"
    assert served > 50


async def test_a_rejected_config_leaves_the_old_one_serving(balancer: Balancer, tmp_path):
    before = balancer.sha()
    workers = balancer.worker_pids()
    good = render_config(balancer.snapshot(*NODES))
    with pytest.raises(ConfigInvalid, match="unknown keyword") as caught:
        await balancer.install(good + "backend broken\n    no-such-directive 1\n", "rejected")
    assert "no-such-directive" in caught.value.output
    assert balancer.sha() == before
    assert balancer.ssh("lb1", "test -e /etc/haproxy/haproxy.cfg.new", check=False).returncode
    assert balancer.worker_pids() == workers
    assert set(hosts_answering(balancer.url)) == set(NODES)
    # A broken template fails before anything reaches the host.
    template = tmp_path / "broken.cfg.j2"
    template.write_text("global\n{% for b in backends %}\n")
    with pytest.raises(HAProxyError, match="broken.cfg.j2"):
        render_config(balancer.snapshot(*NODES), template)


async def test_runtime_api_takes_a_server_out_and_back(balancer: Balancer):
    async with balancer.pool() as pool:
        connection = await pool.connection("lb1")
        async with RuntimeAPI(connection) as api:
            started = time.monotonic()
            await api.set_state("web", "web-2", "maint")
            set_seconds = time.monotonic() - started
            assert (await api.servers("web"))["web-2"] == "MAINT"
            assert set(hosts_answering(balancer.url)) == {"node1"}
            await api.set_state("web", "web-2", "ready")
            eventually("node2 serves again", lambda: set(hosts_answering(balancer.url)) ==
                       set(NODES))  # fmt: skip

            # What a sweep does: node2 found dead, then recovered.
            started = time.monotonic()
            down = await sync_runtime(api, balancer.snapshot(*NODES, unhealthy=("node2",)))
            sync_seconds = time.monotonic() - started
            assert [(c.server, c.state) for c in down] == [("web-2", "maint")]
            assert set(hosts_answering(balancer.url)) == {"node1"}
            assert await sync_runtime(api, balancer.snapshot(*NODES, unhealthy=("node2",))) == ()
            up = await sync_runtime(api, balancer.snapshot(*NODES))
            assert [(c.server, c.state) for c in up] == [("web-2", "ready")]
            eventually("node2 back after the sweep", lambda: set(hosts_answering(balancer.url))
                       == set(NODES))  # fmt: skip
            assert await api.weight("web", "web-1") == 100
            calls = api.calls
    print(f"runtime API: set_state {set_seconds:.3f} s, sync_runtime (read + 1 change) "
          f"{sync_seconds:.3f} s, {calls} socket connections in all")  # fmt: skip
