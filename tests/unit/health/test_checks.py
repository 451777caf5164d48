"""Health probes: the snippets' exact text, quoting of hostile values, the output parser, the
address a probe connects to, rise/fall as properties, and the scripts run for real with sh
against a local HTTP server and closed ports.

The wget branch is reached two ways: `http_wget` (the branch alone) under this machine's GNU
wget, and `http` under a PATH holding only busybox applets (no curl), as on an Alpine host."""

from __future__ import annotations

import dataclasses
import http.server
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.cluster.model import Container
from orchestr.cluster.spec_types import HealthSpec
from orchestr.health import checks, probe
from orchestr.health.checks import (
    KINDS,
    HealthState,
    Probe,
    ProbeResult,
    advance,
    http_wget,
    parse_probe_output,
    probe_for,
    probe_script,
)
from orchestr.health.probe import run_probes
from orchestr.transport.local import LocalConnection

BUSYBOX = "/bin/busybox"
HOSTILE = "we b'\"$(touch pwned)`touch pwned2`;x\\"


def report(key: str) -> str:
    return (
        f"printf '%s\\t%s\\t%s\\n' {key} \"$s\" "
        "\"$(printf '%s\\n' \"$d\" | head -n 1 | tr '\\t\\r' '  ' | cut -c 1-200)\""
    )


# --- the snippets, exactly --------------------------------------------------------------------

WEB = Probe("web.1", HealthSpec("http", path="/healthz", timeout=2.5), "web.1", "127.0.0.1", 8080)

HTTP_TEXT = r"""if command -v curl >/dev/null 2>&1; then
out=$(curl -sS -o /dev/null -w ' %{http_code}' --max-time 3 http://127.0.0.1:8080/healthz 2>&1)
rc=$? code=${out##* } out=${out% *}
else
out=$(timeout 3 wget -q -S -O /dev/null http://127.0.0.1:8080/healthz 2>&1)
rc=$? code=$(printf '%s\n' "$out" | sed -n 's|.*HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p' | head -n 1)
fi
case $rc:$code in
*:[23][0-9][0-9]) s=ok d=$code ;;
*:[1-9][0-9][0-9]) s=fail d=$code ;;
124:*|143:*) s=fail d='timed out after 3s' ;;
*) s=fail d=${out:-exit $rc} ;;
esac
"""

TCP_TEXT = r"""if command -v bash >/dev/null 2>&1; then
out=$(timeout 1 bash -c '</dev/tcp/"$1"/"$2"' bash 172.17.0.5 5432 2>&1)
else
out=$(nc -z -w 1 172.17.0.5 5432 2>&1)
fi
rc=$?
case $rc in
0) s=ok d=connected ;;
124|143) s=fail d='timed out after 1s' ;;
*) s=fail d=${out:-exit $rc} ;;
esac
"""

EXEC_TEXT = r"""out=$(timeout 2 docker exec db sh -c 'pg_isready -U postgres' 2>&1)
rc=$?
case $rc in
0) s=ok d='exit 0' ;;
124|143) s=fail d='timed out after 2s' ;;
*) s=fail d="exit $rc${out:+: $out}" ;;
esac
"""

DOCKER_TEXT = r"""out=$(timeout 2 docker inspect --type container -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' db 2>&1)
rc=$?
case $rc:$out in
0:healthy) s=ok d=healthy ;;
0:none) s=fail d='no HEALTHCHECK in the image: docker reports no health' ;;
124:*|143:*) s=fail d='timed out after 2s' ;;
*) s=fail d=${out:-exit $rc} ;;
esac
"""


def test_http_snippet_exactly():
    assert KINDS["http"](WEB) == HTTP_TEXT + report("web.1")


def test_tcp_snippet_exactly():
    db = Probe("db", HealthSpec("tcp", timeout=0.2), "db", "172.17.0.5", 5432)
    assert KINDS["tcp"](db) == TCP_TEXT + report("db")


def test_exec_snippet_exactly():
    db = Probe("db", HealthSpec("exec", command=("pg_isready -U postgres",)), "db")
    assert KINDS["exec"](db) == EXEC_TEXT + report("db")


def test_docker_snippet_exactly():
    assert KINDS["docker"](Probe("db", HealthSpec("docker"), "db")) == DOCKER_TEXT + report("db")


def test_script_runs_every_probe_as_a_background_job_then_waits():
    db = Probe("db", HealthSpec("docker"), "db")
    script = probe_script([WEB, db])
    assert script == (
        f"(\n{KINDS['http'](WEB)}\n) &\n(\n{KINDS['docker'](db)}\n) &\nwait\n"
    )  # fmt: skip


def test_script_refuses_duplicate_keys_and_unknown_kinds():
    with pytest.raises(ValueError, match="unique"):
        probe_script([WEB, WEB])
    with pytest.raises(ValueError, match="kind"):
        probe_script([Probe("x", HealthSpec("grpc"), "x", "127.0.0.1", 1)])


@pytest.mark.parametrize("key", ["", "a\tb", "a\nb", "a\rb"])
def test_a_key_that_could_forge_lines_is_refused(key):
    with pytest.raises(ValueError):
        Probe(key, HealthSpec("docker"), "x")


def test_url_path_is_percent_encoded_and_ipv6_bracketed():
    spec = HealthSpec("http", path="a b/é?x=1&y=%20")
    text = KINDS["http"](Probe("k", spec, "k", "fd00::5", 80))
    assert "'http://[fd00::5]:80/a%20b/%C3%A9?x=1&y=%20'" in text


def test_exec_command_line_one_item_is_a_shell_line_several_an_argv():
    assert checks.exec_command_line(("test -f /ready && echo yes",)) == "test -f /ready && echo yes"
    assert checks.exec_command_line(("echo", "a b", "it's")) == "echo 'a b' 'it'\"'\"'s'"


# --- parsing ----------------------------------------------------------------------------------


def test_parse_skips_noise_and_reports_missing_keys():
    text = (
        "Welcome to node1\n"
        "web.1\tok\t200\n"
        "db\tfail\tcurl: (7) Failed to connect\n"
        "web.1\tfail\tlater line ignored\n"
        "junk\tmaybe\tnot a verdict\n"
        "no tabs here\n"
        "other\tok\tnot asked for\n"
        "\n"
    )
    assert parse_probe_output(text, ["web.1", "db", "cache"]) == {
        "web.1": ProbeResult(True, "200"),
        "db": ProbeResult(False, "curl: (7) Failed to connect"),
        "cache": ProbeResult(False, "no answer"),
    }


def test_parse_without_keys_takes_every_well_formed_line():
    assert parse_probe_output("a\tok\t\nb\tfail\tx\ty\n") == {
        "a": ProbeResult(True, ""),
        "b": ProbeResult(False, "x\ty"),
    }


# --- probe_for: where the host connects --------------------------------------------------------


def container(**changes) -> Container:
    base = Container("node1", "web.1", "web", "1", 1, "h", address="172.17.0.4")
    return dataclasses.replace(base, **changes)


def test_a_published_port_is_reached_on_loopback():
    probe = probe_for(container(ports=((80, 18080), (443, 18443))), HealthSpec("http", port=443))
    assert probe == Probe("web.1", HealthSpec("http", port=443), "web.1", "127.0.0.1", 18443)


def test_without_spec_port_the_first_published_port_is_checked():
    probe = probe_for(container(ports=((80, 18080), (443, 18443))), HealthSpec("tcp"))
    assert (probe.address, probe.port) == ("127.0.0.1", 18080)


def test_an_unpublished_port_is_reached_on_the_container_ip():
    probe = probe_for(container(ports=((80, 18080),)), HealthSpec("http", port=9090))
    assert (probe.address, probe.port) == ("172.17.0.4", 9090)


def test_nothing_to_check_gives_none():
    assert probe_for(container(), HealthSpec("http")) is None  # no port at all
    assert probe_for(container(address=""), HealthSpec("tcp", port=80)) is None  # no IP
    assert probe_for(container(), HealthSpec("exec")) is None  # no command


def test_exec_and_docker_need_no_port():
    assert probe_for(container(address=""), HealthSpec("docker")) == Probe(
        "web.1", HealthSpec("docker"), "web.1", "", 0
    )
    spec = HealthSpec("exec", command=("true",))
    assert probe_for(container(ports=((80, 18080),)), spec).container == "web.1"


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="grpc"):
        probe_for(container(), HealthSpec("grpc", port=80))


# --- rise and fall ----------------------------------------------------------------------------

SPECS = st.builds(
    lambda rise, fall, start: HealthSpec("tcp", rise=rise, fall=fall, start_period=start),
    st.integers(1, 5),
    st.integers(1, 5),
    st.sampled_from([0.0, 1.0, 5.0, 20.0]),
)
STEPS = st.lists(st.tuples(st.booleans(), st.floats(0.0, 3.0)), max_size=60)


def replay(spec: HealthSpec, steps: list[tuple[bool, float]]):
    """(ok, now, state) after each step, the replica started at 0."""
    state, now, seen = None, 0.0, []
    for ok, dt in steps:
        now += dt
        state = advance(state, ok, now, spec, 0.0)
        seen.append((ok, now, state))
    return seen


@given(SPECS, STEPS)
def test_never_healthy_before_rise_consecutive_passes(spec, steps):
    seen = replay(spec, steps)
    previous = "starting"
    for i, (_, _, state) in enumerate(seen):
        if state.status == "healthy" and previous != "healthy":
            window = seen[i - spec.rise + 1 : i + 1] if i + 1 >= spec.rise else None
            assert window is not None and all(ok for ok, _, _ in window)
        previous = state.status


@given(SPECS, STEPS)
def test_never_unhealthy_before_fall_consecutive_failures_after_the_start_period(spec, steps):
    seen = replay(spec, steps)
    previous = "starting"
    for i, (_, _, state) in enumerate(seen):
        if state.status == "unhealthy" and previous != "unhealthy":
            window = seen[i - spec.fall + 1 : i + 1] if i + 1 >= spec.fall else None
            assert window is not None
            assert all(not ok and now >= spec.start_period for ok, now, _ in window)
        previous = state.status


@given(SPECS, STEPS)
def test_since_moves_exactly_when_the_status_changes(spec, steps):
    before = HealthState("starting", 0, 0, 0.0)
    for _, now, state in replay(spec, steps):
        if state.status == before.status:
            assert state.since == before.since
        else:
            assert state.since == now
        before = state


@given(SPECS, STEPS, st.integers(1, 10))
def test_status_is_stable_under_repeats(spec, steps, repeats):
    seen = replay(spec, steps)
    state = seen[-1][2] if seen else None
    now = (seen[-1][1] if seen else 0.0) + spec.start_period  # past the start period
    for ok in (True, False):
        target = "healthy" if ok else "unhealthy"
        current = state
        for k in range(max(spec.rise, spec.fall) + repeats):
            current = advance(current, ok, now + k, spec, 0.0)
        settled = current
        again = advance(settled, ok, now + 100, spec, 0.0)
        assert settled.status == target and again == settled  # a fixed point, since kept


@given(SPECS, st.integers(1, 10))
def test_failures_in_the_start_period_never_make_it_unhealthy(spec, count):
    state = None
    for k in range(count):
        state = advance(state, False, spec.start_period * k / (count + 1), spec, 0.0)
    assert spec.start_period == 0.0 or state.status == "starting"


def test_a_replica_recovers_after_rise_passes():
    spec = HealthSpec("tcp", rise=2, fall=2)
    state = None
    for t, ok in enumerate([True, True, False, False, True]):
        state = advance(state, ok, float(t), spec, 0.0)
    assert (state.status, state.since) == ("unhealthy", 3.0)
    state = advance(state, True, 5.0, spec, 0.0)
    assert (state.status, state.since, state.successes) == ("healthy", 5.0, 2)


# --- the scripts run for real -----------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    codes = {"/ok": 200, "/bad": 500, "/redir": 302}
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Handler.paths.append(self.path)
        if self.path == "/slow":
            time.sleep(3)
        self.send_response(self.codes.get(self.path, 404))
        if self.path == "/redir":
            self.send_header("Location", "/missing")  # followed by wget: the 302 still counts
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_probe(key: str, port: int, path: str, timeout: float = 2.0) -> Probe:
    return Probe(key, HealthSpec("http", path=path, timeout=timeout), key, "127.0.0.1", port)


def tcp_probe(key: str, port: int, address: str = "127.0.0.1") -> Probe:
    return Probe(key, HealthSpec("tcp", timeout=2.0), key, address, port)


def run_sh(script: str, shell: str = "/bin/sh", path: str | None = None, cwd=None, **env) -> str:
    environment = {**os.environ, **env}
    if path is not None:
        environment["PATH"] = path
    done = subprocess.run(
        [*shell.split(), "-c", script],
        capture_output=True, text=True, timeout=30, env=environment, cwd=cwd,
    )  # fmt: skip
    return done.stdout


def verdicts(results: dict[str, ProbeResult]) -> dict[str, tuple[bool, str]]:
    return {key: (r.ok, r.detail) for key, r in results.items()}


async def test_http_and_tcp_for_real_in_one_run(server_port, closed_port):
    probes = [
        http_probe("ok", server_port, "/ok"),
        http_probe("bad", server_port, "/bad"),
        http_probe("redir", server_port, "/redir"),
        http_probe("missing", server_port, "/nothing-here"),
        http_probe("refused", closed_port, "/ok"),
        tcp_probe("open", server_port),
        tcp_probe("closed", closed_port),
    ]
    got = verdicts(await run_probes(LocalConnection("local"), probes))
    assert got["ok"] == (True, "200")
    assert got["bad"] == (False, "500")
    assert got["redir"] == (True, "302")
    assert got["missing"] == (False, "404")
    assert not got["refused"][0] and got["refused"][1].startswith("curl: (7)")
    assert got["open"] == (True, "connected")
    assert not got["closed"][0] and "refused" in got["closed"][1]


@pytest.mark.parametrize("shell", ["/bin/sh", "bash", f"{BUSYBOX} sh"])
def test_the_script_runs_under_dash_bash_and_busybox_ash(shell, server_port, closed_port):
    probes = [http_probe("ok", server_port, "/ok"), tcp_probe("closed", closed_port)]
    got = parse_probe_output(run_sh(probe_script(probes), shell), ["ok", "closed"])
    assert got["ok"] == ProbeResult(True, "200")
    assert not got["closed"].ok


def test_the_wget_branch_with_gnu_wget(server_port, closed_port):
    keys = {"ok": "/ok", "bad": "/bad", "redir": "/redir", "missing": "/x"}
    probes = [http_probe(key, server_port, path) for key, path in keys.items()]
    probes.append(http_probe("refused", closed_port, "/ok"))
    script = "\n".join(http_wget(p) for p in probes)  # one after the other
    got = verdicts(parse_probe_output(run_sh(script)))
    assert got == {
        "ok": (True, "200"),
        "bad": (False, "500"),
        "redir": (True, "302"),
        "missing": (False, "404"),
        "refused": (False, "exit 4"),  # GNU wget -q says nothing; 4 is its network failure
    }


@pytest.fixture
def busybox_only(tmp_path) -> str:
    """A PATH with busybox applets only (no curl, no bash), as on an Alpine host."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for applet in ("wget", "timeout", "sed", "head", "tr", "cut", "nc", "sleep"):
        (bin_dir / applet).symlink_to(BUSYBOX)
    return str(bin_dir)


def test_without_curl_http_falls_back_to_busybox_wget(busybox_only, server_port, closed_port):
    probes = [
        http_probe("ok", server_port, "/ok"),
        http_probe("bad", server_port, "/bad"),
        http_probe("redir", server_port, "/redir"),
        http_probe("refused", closed_port, "/ok"),
    ]
    out = run_sh(probe_script(probes), f"{BUSYBOX} sh", path=busybox_only)
    got = verdicts(parse_probe_output(out, [p.key for p in probes]))
    assert got["ok"] == (True, "200")
    assert got["bad"] == (False, "500")
    assert got["redir"] == (True, "302")
    assert got["refused"] == (
        False, "wget: can't connect to remote host (127.0.0.1): Connection refused"
    )  # fmt: skip


def test_http_timeout_is_a_clear_failure(server_port):
    probes = [http_probe("slow", server_port, "/slow", timeout=1)]
    curl = parse_probe_output(run_sh(probe_script(probes)))["slow"]
    assert not curl.ok and "timed out" in curl.detail
    wget = parse_probe_output(run_sh(http_wget(probes[0])))["slow"]
    assert wget == ProbeResult(False, "timed out after 1s")


@pytest.fixture
def fake_docker(tmp_path) -> tuple[str, Path]:
    """A `docker` that records its argv (NUL-separated), runs `exec`'s command here, and
    answers `inspect` with $FAKE_HEALTH."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    log = tmp_path / "argv"
    script = bin_dir / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\0' \"$@\" > '{log}'\n"
        'case $1 in\n'
        'exec) shift 2; exec "$@" ;;\n'
        'inspect) [ -n "$FAKE_HEALTH" ] || { echo "Error: No such container" >&2; exit 1; }\n'
        '  printf "%s\\n" "$FAKE_HEALTH" ;;\n'
        "esac\n"
    )  # fmt: skip
    script.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}", log


def argv(log: Path) -> list[str]:
    return log.read_text().split("\0")[:-1]


def exec_probe(command: tuple[str, ...], name: str = "c", timeout: float = 2.0) -> Probe:
    return Probe(name, HealthSpec("exec", command=command, timeout=timeout), name)


def test_exec_passes_on_exit_0_and_reports_the_exit_code(fake_docker):
    path, _ = fake_docker
    probes = [exec_probe(("true",), "yes"), exec_probe(("echo nope; exit 3",), "no")]
    got = verdicts(parse_probe_output(run_sh(probe_script(probes), path=path)))
    assert got == {"yes": (True, "exit 0"), "no": (False, "exit 3: nope")}


def test_exec_timeout_is_a_clear_failure(fake_docker):
    path, _ = fake_docker
    out = run_sh(KINDS["exec"](exec_probe(("sleep 5",), timeout=1)), path=path)
    assert parse_probe_output(out)["c"] == ProbeResult(False, "timed out after 1s")


def test_docker_health_status(fake_docker):
    path, _ = fake_docker
    script = KINDS["docker"](Probe("c", HealthSpec("docker"), "c"))

    def check(health: str) -> ProbeResult:
        return parse_probe_output(run_sh(script, path=path, FAKE_HEALTH=health))["c"]

    assert check("healthy") == ProbeResult(True, "healthy")
    assert check("starting") == ProbeResult(False, "starting")
    assert check("unhealthy") == ProbeResult(False, "unhealthy")
    assert check("none").detail.startswith("no HEALTHCHECK")
    assert check("") == ProbeResult(False, "Error: No such container")


# --- hostile values reach their commands intact ------------------------------------------------


def test_hostile_names_and_commands_arrive_as_single_words(fake_docker, tmp_path):
    path, log = fake_docker
    line = "echo \"$(echo in-container)\" 'it''s' | grep -q in-container"
    run_sh(KINDS["exec"](exec_probe((line,), HOSTILE)), path=path, cwd=tmp_path)
    assert argv(log) == ["exec", HOSTILE, "sh", "-c", line]

    words = ("printf", "%s|", "a b", "$(touch pwned)", "it's", "`id`")
    out = run_sh(KINDS["exec"](exec_probe(words, HOSTILE)), path=path, cwd=tmp_path)
    assert argv(log)[4] == "printf '%s|' 'a b' '$(touch pwned)' 'it'\"'\"'s' '`id`'"
    assert parse_probe_output(out)[HOSTILE] == ProbeResult(True, "exit 0")  # the key, exact

    run_sh(KINDS["docker"](Probe("k", HealthSpec("docker"), HOSTILE)), path=path, cwd=tmp_path)
    assert argv(log)[-1] == HOSTILE
    assert not list(tmp_path.glob("pwned*"))


def test_hostile_paths_and_addresses_stay_data(server_port, tmp_path):
    Handler.paths.clear()
    path = "/a b'$(touch pwned)`touch pwned2`\""
    probes = [
        http_probe(HOSTILE, server_port, path),
        tcp_probe("addr", 80, address="$(touch pwned3)"),
    ]
    got = parse_probe_output(run_sh(probe_script(probes), cwd=tmp_path))
    assert got[HOSTILE] == ProbeResult(False, "404")
    assert Handler.paths == ["/a%20b'$(touch%20pwned)%60touch%20pwned2%60%22"]
    assert not got["addr"].ok
    assert not list(tmp_path.glob("pwned*"))


def test_output_of_a_container_cannot_forge_a_result(fake_docker):
    path, _ = fake_docker
    forged = exec_probe(("printf 'x\\nother\\tok\\tforged\\n'; exit 1",))
    out = run_sh(probe_script([forged]), path=path)
    assert parse_probe_output(out, ["c", "other"]) == {
        "c": ProbeResult(False, "exit 1: x"),
        "other": ProbeResult(False, "no answer"),
    }


# --- run_probes: one round trip ----------------------------------------------------------------


class Counting(LocalConnection):
    def __init__(self) -> None:
        super().__init__("local")
        self.calls = 0

    async def run(self, command, **kwargs):
        self.calls += 1
        return await super().run(command, **kwargs)


async def test_probes_run_at_once_in_one_call(fake_docker, monkeypatch):
    path, _ = fake_docker
    monkeypatch.setenv("PATH", path)
    connection = Counting()
    probes = [exec_probe(("sleep 1.5",), f"c{i}", timeout=3) for i in range(4)]
    started = time.monotonic()
    got = await run_probes(connection, probes)
    # Four 1.5 s probes one after the other would take 6 s.
    assert time.monotonic() - started < 4.5
    assert connection.calls == 1
    assert all(r.ok for r in got.values()) and len(got) == 4


async def test_a_large_probe_set_is_cut_into_scripts_run_at_once(fake_docker, monkeypatch):
    path, _ = fake_docker
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(probe, "MAX_SCRIPT_CHARS", 2_000)
    connection = Counting()
    probes = [exec_probe(("true" if i % 2 else "false",), f"c{i}") for i in range(10)]
    got = await run_probes(connection, probes)
    assert connection.calls > 1
    assert {key: r.ok for key, r in got.items()} == {f"c{i}": bool(i % 2) for i in range(10)}


async def test_a_silent_script_means_no_answer_with_its_stderr():
    class Broken(LocalConnection):
        async def run(self, command, **kwargs):
            return await super().run("echo 'sh: cannot fork' >&2", **kwargs)

    got = await run_probes(Broken("l"), [exec_probe(("true",))])
    assert got == {"c": ProbeResult(False, "no answer: sh: cannot fork")}


async def test_no_probes_no_round_trip():
    connection = Counting()
    assert await run_probes(connection, []) == {}
    assert connection.calls == 0
