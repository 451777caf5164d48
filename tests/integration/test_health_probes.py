"""Health probes on a real lab host over SSH: http, tcp, exec and docker checks of a demo
container, all in one round trip (one `run` on the host's connection)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from orchestr.cluster.model import Container
from orchestr.cluster.spec_types import HealthSpec
from orchestr.health.checks import Probe, probe_for
from orchestr.health.probe import run_probes
from orchestr.inventory import load_inventory
from orchestr.lab.images import DEMO_IMAGE
from orchestr.transport.pool import Pool
from orchestr.transport.settings import settings_for

pytestmark = pytest.mark.integration

WEB = "itest-health-web"
CHECKED = "itest-health-checked"  # with a HEALTHCHECK of its own
WEB_PORT = 18093
CLOSED_PORT = 18094  # nothing publishes it


class Counting:
    """A connection that counts its round trips."""

    def __init__(self, connection):
        self.connection = connection
        self.calls = 0

    async def run(self, command, **kwargs):
        self.calls += 1
        return await self.connection.run(command, **kwargs)


def wait_for(lab, host: str, command: str, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while lab.ssh(host, command, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"{what} not ready after {timeout} s"
        time.sleep(0.3)


@pytest.fixture
def demo(lab):
    """The demo web app on node1 (port 80 published on WEB_PORT) and a second one with a
    HEALTHCHECK, both ready; yields the web container's IP, removes both after."""
    lab.orchestr("lab", "load-image", DEMO_IMAGE, "node1")
    lab.ssh("node1", f"docker rm -f {WEB} {CHECKED} >/dev/null 2>&1; true")
    lab.ssh("node1", f"docker run -d --name {WEB} -p {WEB_PORT}:80 {DEMO_IMAGE} >/dev/null")
    lab.ssh(
        "node1",
        f"docker run -d --name {CHECKED} --health-cmd true --health-interval 1s "
        f"{DEMO_IMAGE} >/dev/null",
    )
    try:
        wait_for(lab, "node1", f"curl -sf http://127.0.0.1:{WEB_PORT}/healthz", "demo httpd")
        healthy = f"docker inspect -f '{{{{.State.Health.Status}}}}' {CHECKED} | grep -qx healthy"
        wait_for(lab, "node1", healthy, "docker's own health check")
        address = lab.ssh(
            "node1",
            f"docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}"
            f"{{{{end}}}}' {WEB}",
        ).stdout.strip()
        assert address, "the demo container has no IP"
        yield address
    finally:
        lab.ssh("node1", f"docker rm -f {WEB} {CHECKED} >/dev/null 2>&1; true", check=False)


async def test_every_kind_on_a_lab_host_in_one_round_trip(lab, demo):
    web = Container("node1", WEB, "web", "1", 1, "h", ports=((80, WEB_PORT),), address=demo)
    unpublished = dataclasses.replace(web, ports=())
    healthz = probe_for(web, HealthSpec("http", path="/healthz"))
    assert (healthz.address, healthz.port) == ("127.0.0.1", WEB_PORT)
    direct = probe_for(unpublished, HealthSpec("http", port=80, path="/healthz"))
    assert (direct.address, direct.port) == (demo, 80)

    def renamed(probe: Probe | None, key: str) -> Probe:
        assert probe is not None
        return dataclasses.replace(probe, key=key)

    probes = [
        renamed(healthz, "http-ok"),
        renamed(probe_for(web, HealthSpec("http", path="/no-such-page")), "http-404"),
        renamed(direct, "http-container-ip"),
        renamed(probe_for(web, HealthSpec("tcp")), "tcp-open"),
        Probe("tcp-closed", HealthSpec("tcp", timeout=1), WEB, "127.0.0.1", CLOSED_PORT),
        renamed(probe_for(web, HealthSpec("exec", command=("true",))), "exec-true"),
        renamed(probe_for(web, HealthSpec("exec", command=("false",))), "exec-false"),
        renamed(probe_for(web, HealthSpec("docker")), "docker-none"),
        Probe("docker-healthy", HealthSpec("docker"), CHECKED),
    ]
    settings = [
        settings_for(host.name, host.vars)
        for host in load_inventory([str(lab.inventory)]).select("all")
        if host.name == "node1"
    ]
    async with Pool(settings) as pool:
        connection = Counting(await pool.connection("node1"))
        got = await run_probes(connection, probes)

    assert connection.calls == 1  # nine probes, one round trip
    summary = {key: (r.ok, r.detail) for key, r in got.items()}
    assert summary["http-ok"] == (True, "200")
    assert summary["http-404"] == (False, "404")
    assert summary["http-container-ip"] == (True, "200")
    assert summary["tcp-open"] == (True, "connected")
    assert not summary["tcp-closed"][0] and "refused" in summary["tcp-closed"][1]
    assert summary["exec-true"] == (True, "exit 0")
    assert summary["exec-false"] == (False, "exit 1")
    assert summary["docker-none"] == (
        False, "no HEALTHCHECK in the image: docker reports no health"
    )  # fmt: skip
    assert summary["docker-healthy"] == (True, "healthy")
