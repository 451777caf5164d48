"""HAProxy's config from the discovery snapshot: rendered for 0, 1 and 50 services and accepted by
this machine's `haproxy -c`, its exact lines (servers, checks, redispatch, stats socket),
determinism, what it refuses, the state file carried over a reload, sync_runtime's decisions,
and one install/reload/runtime-API round on the controller itself (a LocalConnection)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from orchestr.cluster.spec_types import HealthSpec
from orchestr.discovery.haproxy import (
    ConfigInvalid,
    HAProxyError,
    RuntimeAPI,
    ServerState,
    carried_state,
    configured_servers,
    duration,
    install,
    parse_servers_state,
    render_config,
    sync_runtime,
)
from orchestr.discovery.snapshot import Endpoint, ServiceEndpoints, Snapshot
from orchestr.transport.local import LocalConnection

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
needs_haproxy = pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed")


def service(name: str, lb_port: int | None, health: HealthSpec | None, *endpoints: Endpoint,
            target_port: int = 80) -> ServiceEndpoints:  # fmt: skip
    return ServiceEndpoints(name, target_port, lb_port, health, tuple(endpoints))


def endpoint(service: str, slot: str, address: str, port: int, healthy: bool = True,
             weight: int = 100) -> Endpoint:  # fmt: skip
    return Endpoint(service, slot, f"node-{slot}", address, port, weight, healthy)


def check(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """haproxy -c on the text; the test fails with haproxy's own words if it is rejected."""
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    done = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, f"haproxy -c rejected it:\n{done.stdout}{done.stderr}\n{text}"
    return done


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def fifty() -> Snapshot:
    """50 services: every health kind, unhealthy endpoints, some not exposed, one with none."""
    kinds = [
        HealthSpec("http", path="/healthz", interval=1.0, fall=2, rise=1),
        HealthSpec("tcp", interval=0.5, timeout=0.25),
        HealthSpec("exec", command=("true",)),
        HealthSpec("docker"),
        None,
    ]
    services = []
    for i in range(50):
        eps = [endpoint(f"svc{i:02d}", str(slot), f"198.18.0.{10 + slot}", 31000 + i,
                        healthy=(i + slot) % 7 != 0) for slot in range(1, 1 + i % 4)]  # fmt: skip
        lb_port = None if i % 10 == 9 else 8000 + i
        services.append(service(f"svc{i:02d}", lb_port, kinds[i % len(kinds)], *eps))
    return Snapshot(tuple(services))


# --- the rendered text ------------------------------------------------------------------------


@needs_haproxy
def test_no_service_still_renders_a_valid_config(tmp_path):
    text = render_config(Snapshot())
    check(text, tmp_path)
    got = lines(text)
    assert "stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners" in got
    assert "master-worker" in got
    assert "server-state-file /var/lib/haproxy/server-state" in got
    assert "load-server-state-from-file global" in got
    assert not any(line.startswith(("frontend ", "backend ", "server ")) for line in got)


@needs_haproxy
def test_one_http_service_exact_lines(tmp_path):
    snapshot = Snapshot((
        service("web", 8080, HealthSpec("http", path="/healthz", interval=2.0, fall=3, rise=2,
                                        timeout=1.5),
                endpoint("web", "2", "198.18.0.12", 31081),
                endpoint("web", "1", "198.18.0.11", 31080)),
    ))  # fmt: skip
    text = render_config(snapshot)
    check(text, tmp_path)
    got = lines(text)
    block = got[got.index("frontend web") :]
    assert block[:8] == [
        "frontend web",
        "bind *:8080",
        "default_backend web",
        "",
        "backend web",
        "balance roundrobin",
        "option httpchk GET /healthz",
        "http-check expect status 200-399",
    ]
    assert "timeout check 1500ms" in block
    assert "default-server inter 2s fall 3 rise 2" in block
    servers = [line for line in block if line.startswith("server ")]
    assert servers == [  # slot order, whatever order the endpoints came in
        "server web-1 198.18.0.11:31080 check weight 100",
        "server web-2 198.18.0.12:31081 check weight 100",
    ]
    for line in ("retries 3", "option redispatch 1", "timeout connect 1s", "timeout client 10s",
                 "timeout server 10s", "mode http"):  # fmt: skip
        assert line in got


@needs_haproxy
def test_fifty_services_of_every_kind(tmp_path):
    snapshot = fifty()
    text = render_config(snapshot)
    done = check(text, tmp_path)
    assert "ALERT" not in done.stderr
    got = lines(text)
    exposed = [s for s in snapshot.services if s.lb_port is not None]
    assert len(exposed) == 45
    assert sum(line.startswith("frontend ") for line in got) == 45
    assert sum(line.startswith("backend ") for line in got) == 45
    assert "frontend svc09" not in got and "backend svc09" not in got  # not exposed
    assert sum(line.startswith("server ") for line in got) == sum(len(s.endpoints) for s in exposed)
    assert sum(line.startswith("option httpchk") for line in got) == 10  # i % 5 == 0
    disabled = [line for line in got if line.startswith("server ") and line.endswith(" disabled")]
    assert len(disabled) == sum(1 for s in exposed for e in s.endpoints if not e.healthy) > 0


def test_health_kinds_map_to_checks():
    def backend_of(health: HealthSpec | None, **kwargs) -> list[str]:
        text = render_config(Snapshot((
            service("api", 9000, health, endpoint("api", "1", "10.0.0.1", 31000), **kwargs),
        )))  # fmt: skip
        got = lines(text)
        return got[got.index("backend api") :]

    http = backend_of(HealthSpec("http", path="/ready?full=1", interval=0.5, fall=5, rise=3))
    assert "option httpchk GET /ready?full=1" in http
    assert "default-server inter 500ms fall 5 rise 3" in http
    for health in (HealthSpec("tcp"), HealthSpec("exec", command=("true",)),
                   HealthSpec("docker"), None):  # fmt: skip
        got = backend_of(health)
        assert not any(line.startswith(("option httpchk", "http-check")) for line in got)
        assert "server api-1 10.0.0.1:31000 check weight 100" in got
    assert "default-server inter 2s fall 3 rise 2" in backend_of(None)
    # An http check on another container port than the served one cannot run from the LB.
    other = backend_of(HealthSpec("http", port=9090, path="/healthz"), target_port=80)
    assert not any(line.startswith("option httpchk") for line in other)
    same = backend_of(HealthSpec("http", port=80, path="/healthz"), target_port=80)
    assert "option httpchk GET /healthz" in same


@needs_haproxy
def test_unhealthy_endpoints_start_in_maintenance(tmp_path):
    snapshot = Snapshot((
        service("web", 8080, HealthSpec("tcp"),
                endpoint("web", "1", "10.0.0.1", 31000),
                endpoint("web", "2", "10.0.0.2", 31000, healthy=False, weight=30)),
    ))  # fmt: skip
    text = render_config(snapshot)
    check(text, tmp_path)
    assert "server web-1 10.0.0.1:31000 check weight 100" in lines(text)
    assert "server web-2 10.0.0.2:31000 check weight 30 disabled" in lines(text)


@needs_haproxy
def test_exposed_service_without_endpoints_and_ipv6(tmp_path):
    snapshot = Snapshot((
        service("empty", 8081, None),
        service("six", 8082, None, endpoint("six", "1", "fd00::5", 31000)),
    ))  # fmt: skip
    text = render_config(snapshot)
    check(text, tmp_path)
    assert "backend empty" in lines(text)
    assert "server six-1 [fd00::5]:31000 check weight 100" in lines(text)


def test_rendering_is_deterministic():
    snapshot = fifty()
    shuffled = list(snapshot.services)
    random.Random(7).shuffle(shuffled)
    mixed = Snapshot(tuple(
        ServiceEndpoints(s.name, s.target_port, s.lb_port, s.health,
                         tuple(random.Random(len(s.name)).sample(s.endpoints, len(s.endpoints))))
        for s in shuffled
    ))  # fmt: skip
    assert render_config(mixed) == render_config(snapshot)
    assert render_config(snapshot).endswith("\n") and not render_config(snapshot).endswith("\n\n")


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (Snapshot((service("a", 8080, None), service("b", 8080, None))), "both ask for lb_port"),
        (Snapshot((service("a b", 8080, None),)), "not a valid HAProxy name"),
        (Snapshot((service("a", 8080, HealthSpec("http", path="/x #y")),)), "health check path"),
        (Snapshot((service("a", 8080, HealthSpec("http", path="noslash")),)), "health check path"),
        (Snapshot((service("a", 8080, None, endpoint("a", "1", "10.0.0.1", 1),
                           endpoint("a", "1", "10.0.0.2", 1)),)), "two endpoints named a-1"),
        (Snapshot((service("a", 8080, None, endpoint("a", "1", "bad host", 1)),)),
         "neither an IP nor a host name"),
    ],
)  # fmt: skip
def test_refuses_what_would_break_the_config(snapshot, message):
    with pytest.raises(HAProxyError, match=message):
        render_config(snapshot)


def test_template_errors_are_named(tmp_path):
    template = tmp_path / "mine.cfg.j2"
    template.write_text("global\n    stats socket {{ stats_sockett }}\n")
    with pytest.raises(HAProxyError, match=r"mine\.cfg\.j2.*stats_sockett"):
        render_config(Snapshot(), template)
    with pytest.raises(HAProxyError, match="does not exist"):
        render_config(Snapshot(), tmp_path / "missing.j2")
    template.write_text("# {{ backends | length }} backends, socket {{ stats_socket }}\n")
    assert render_config(Snapshot(), template, stats_socket="/s") == "# 0 backends, socket /s\n"


def test_duration():
    assert [duration(s) for s in (2.0, 0.5, 1.25, 0.0, 60.0)] == [
        "2s", "500ms", "1250ms", "1ms", "60s",
    ]  # fmt: skip


# --- the server state carried over a reload, sync_runtime -------------------------------------

# `show servers state`'s header in HAProxy 2.6 (format 1).
COLUMNS = (
    "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
)
DUMP = f"""1
# {COLUMNS}
3 web 1 web-1 10.0.0.1 2 1 100 100 5 15 3 4 6 0 0 0 - 31000 - 0 0 - - 0
3 web 2 web-2 10.0.0.2 0 0 100 100 5 15 2 0 6 0 0 0 - 31000 - 0 0 - - 0
3 web 3 web-3 10.0.0.3 2 8 50 100 5 15 3 4 6 0 0 0 - 31000 - 0 0 - - 0
4 old 1 old-1 10.0.0.9 2 0 100 100 5 15 3 4 6 0 0 0 - 31000 - 0 0 - - 0
"""


def test_state_carried_only_for_unmoved_servers():
    snapshot = Snapshot((
        service("web", 8080, None,
                endpoint("web", "1", "10.0.0.1", 31000),  # unchanged: keeps its state
                endpoint("web", "2", "10.0.0.7", 31000),  # moved host: starts from config
                endpoint("web", "3", "10.0.0.3", 31999)),  # new port: starts from config
    ))  # fmt: skip
    text = render_config(snapshot)
    assert configured_servers(text) == {
        ("web", "web-1"): ("10.0.0.1", 31000),
        ("web", "web-2"): ("10.0.0.7", 31000),
        ("web", "web-3"): ("10.0.0.3", 31999),
    }
    kept = carried_state(DUMP, text).splitlines()
    assert kept[:2] == DUMP.splitlines()[:2]
    assert [line.split()[3] for line in kept[2:]] == ["web-1"]
    assert carried_state("garbage", text) == ""


def test_parse_servers_state():
    states = parse_servers_state(DUMP)
    assert states["web"]["web-1"] == ServerState(admin=1, operational=2, weight=100)
    assert states["web"]["web-1"].maint and not states["web"]["web-1"].drain
    assert states["web"]["web-3"].drain and states["web"]["web-3"].weight == 50
    assert states["old"]["old-1"] == ServerState(0, 2, 100)
    assert parse_servers_state("") == {}


class FakeAPI:
    def __init__(self, states: dict[str, dict[str, ServerState]]):
        self.states = states
        self.set: list[tuple[str, str, str]] = []

    async def server_states(self):
        return self.states

    async def set_state(self, backend, server, state):
        self.set.append((backend, server, state))


async def test_sync_runtime_follows_the_health_marks():
    snapshot = Snapshot((
        service("web", 8080, None,
                endpoint("web", "1", "10.0.0.1", 1),  # healthy, ready: nothing
                endpoint("web", "2", "10.0.0.2", 1, healthy=False),  # dead, ready: maint
                endpoint("web", "3", "10.0.0.3", 1, healthy=False),  # dead, maint: nothing
                endpoint("web", "4", "10.0.0.4", 1),  # recovered from maint: ready
                endpoint("web", "5", "10.0.0.5", 1),  # recovered from drain: ready
                endpoint("web", "6", "10.0.0.6", 1, healthy=False)),  # not running yet: nothing
        service("dns", None, None, endpoint("dns", "1", "10.0.0.1", 1, healthy=False)),
    ))  # fmt: skip
    running = {"web": {"web-1": ServerState(0, 2, 100), "web-2": ServerState(0, 2, 100),
                       "web-3": ServerState(1, 0, 100), "web-4": ServerState(1, 2, 100),
                       "web-5": ServerState(8, 2, 100)},
               "dns": {"dns-1": ServerState(0, 2, 100)}}  # fmt: skip
    api = FakeAPI(running)
    changes = await sync_runtime(api, snapshot)
    assert [(c.server, c.state, c.reason) for c in changes] == [
        ("web-2", "maint", "unhealthy"), ("web-4", "ready", "recovered"),
        ("web-5", "ready", "recovered"),
    ]  # fmt: skip
    assert sorted(api.set) == [("web", "web-2", "maint"), ("web", "web-4", "ready"),
                               ("web", "web-5", "ready")]  # fmt: skip
    drained = FakeAPI({"web": {"web-2": ServerState(8, 2, 100), "web-3": ServerState(0, 2, 100)}})
    changes = await sync_runtime(drained, snapshot, down="drain")
    assert [(c.server, c.state) for c in changes] == [("web-3", "drain")]


# --- one round on the controller: install, reload, runtime API --------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Backend(threading.Thread):
    """A tiny HTTP server answering its own name."""

    def __init__(self, name: str):
        import http.server

        body = name.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(daemon=True)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # HAProxy's checks reset the connection once they have the status line: not an error.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]

    def run(self):
        self.server.serve_forever()


@needs_haproxy
async def test_install_reload_and_runtime_api_on_the_controller(tmp_path):
    web = [Backend("one"), Backend("two")]
    for backend in web:
        backend.start()
    lb_port = free_port()
    paths = {"path": str(tmp_path / "haproxy.cfg"), "pidfile": str(tmp_path / "haproxy.pid"),
             "stats_socket": str(tmp_path / "run" / "admin.sock"),
             "state_file": str(tmp_path / "state" / "server-state")}  # fmt: skip

    def config(*which: int) -> str:
        eps = [endpoint("web", str(i + 1), "127.0.0.1", web[i].port) for i in which]
        snapshot = Snapshot((service("web", lb_port, HealthSpec("http", interval=0.5), *eps),))
        return render_config(snapshot, stats_socket=paths["stats_socket"],
                             state_file=paths["state_file"])  # fmt: skip

    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{lb_port}/", timeout=5) as answer:
            return answer.read().decode()

    connection = LocalConnection("local")
    try:
        first = await install(connection, config(0, 1), **paths)
        assert (first.action, first.previous_sha, first.round_trips) == ("started", None, 2)
        assert {await asyncio.to_thread(get) for _ in range(4)} == {"one", "two"}
        again = await install(connection, config(0, 1), **paths)
        assert (again.action, again.round_trips) == ("unchanged", 1)

        async with RuntimeAPI(connection, socket_path=paths["stats_socket"]) as api:
            await api.set_state("web", "web-1", "maint")
            assert (await api.servers("web"))["web-1"] == "MAINT"
            assert {await asyncio.to_thread(get) for _ in range(4)} == {"two"}
            with pytest.raises(HAProxyError, match="no backend"):
                await api.servers("nope")

        reloaded = await install(connection, config(0, 1) + "# a comment changes the text\n",
                                 **paths)  # fmt: skip
        assert reloaded.action == "reloaded" and reloaded.state_saved
        assert reloaded.previous_sha == first.sha
        assert Path(paths["path"] + ".prev").read_text() == config(0, 1)
        async with RuntimeAPI(connection, socket_path=paths["stats_socket"]) as api:
            assert (await api.servers("web"))["web-1"] == "MAINT"  # carried by the state file
            assert await sync_runtime(api, Snapshot()) == ()

        with pytest.raises(ConfigInvalid, match="unknown keyword"):
            await install(connection, config(0) + "backend broken\n    no-such-thing\n", **paths)
        assert Path(paths["path"]).read_text().endswith("# a comment changes the text\n")
        assert not Path(paths["path"] + ".new").exists()
        assert await asyncio.to_thread(get) == "two"
    finally:
        with_pid = Path(paths["pidfile"])
        if with_pid.exists():
            os.kill(int(with_pid.read_text().split()[0]), signal.SIGTERM)  # the master we started
        for backend in web:
            backend.server.shutdown()
