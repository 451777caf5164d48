"""HAProxy on the load-balancer hosts: the config rendered from the discovery snapshot (pure),
installed over one SSH connection (validated with `haproxy -c` there, renamed into place, the
old file kept, a seamless reload only when the text changed), and, between reloads, the runtime
API through haproxyadmin on a unix socket forwarded over SSH: endpoints a sweep finds dead go to
maintenance the moment it does, and come back when they recover."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from haproxyadmin.exceptions import CommandFailed, HAProxyBaseError
from haproxyadmin.haproxy import HAProxy
from haproxyadmin.utils import stat2dict

from orchestr.cluster.model import slot_key
from orchestr.discovery.snapshot import Snapshot
from orchestr.errors import OrchestrError
from orchestr.transport.base import Connection
from orchestr.transport.command import Command

# Where HAProxy runs: the inventory group (or any host pattern the operator configures).
LB_PATTERN = "lb"
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "haproxy.cfg.j2"
CONFIG_PATH = "/etc/haproxy/haproxy.cfg"
PIDFILE = "/run/haproxy.pid"  # the master's pid (master-worker mode)
STATS_SOCKET = "/run/haproxy/admin.sock"
STATE_FILE = "/var/lib/haproxy/server-state"
STATES = ("ready", "drain", "maint")

# HAProxy's own limits on names, and what we let through unquoted into the config: `#` starts
# a comment, quotes and backslashes are interpreted, whitespace splits arguments.
_NAME = re.compile(r"[A-Za-z0-9._:-]+\Z")
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]+\Z")
_CHECK_PATH = re.compile(r"/[A-Za-z0-9._~!&()*+,;=:@%/?-]*\Z")


class HAProxyError(OrchestrError):
    """HAProxy on an LB host could not be configured, reloaded or reached."""


class ConfigInvalid(HAProxyError):
    """`haproxy -c` rejected the rendered config; nothing was installed."""

    def __init__(self, message: str, output: str):
        super().__init__(message, hint="fix templates/haproxy.cfg.j2 or the service's spec")
        self.output = output  # haproxy's whole answer, warnings included


# --- rendering (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerView:
    """One `server` line: an endpoint as the template sees it."""

    name: str
    address: str  # bracketed when IPv6, ready for ADDRESS:PORT
    port: int
    weight: int
    healthy: bool


@dataclass(frozen=True)
class BackendView:
    """One exposed service: its frontend port, its health check in HAProxy's terms, its servers."""

    name: str
    lb_port: int
    check: str  # "http" (option httpchk) or "tcp" (connect only)
    check_path: str
    inter: str
    fall: int
    rise: int
    check_timeout: str
    servers: tuple[ServerView, ...]


def duration(seconds: float) -> str:
    """HAProxy's time syntax: whole seconds as `2s`, anything else in milliseconds (at least 1)."""
    millis = max(1, round(seconds * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def backend_views(snapshot: Snapshot) -> tuple[BackendView, ...]:
    """The exposed services (those with an lb_port) by name, servers in slot order. Services
    without an lb_port get neither frontend nor backend: no traffic could reach the backend, and
    its health checks would only load the replicas. Raises HAProxyError on what would make a
    broken or ambiguous config (a name HAProxy rejects, two services on one port)."""
    views = []
    ports: dict[int, str] = {}
    for service in sorted(snapshot.services, key=lambda s: s.name):
        if service.lb_port is None:
            continue
        _check_name(service.name, "service")
        if service.lb_port in ports:
            raise HAProxyError(
                f"services {ports[service.lb_port]} and {service.name} both ask for lb_port "
                f"{service.lb_port}",
                hint="give each service its own lb_port",
            )
        ports[service.lb_port] = service.name
        health = service.health
        # The LB reaches a replica only on its published port (the service's first port): a
        # check declared on another container port cannot be run from there, so HAProxy only
        # checks that the published port accepts connections, and orchestr's own probes run the
        # declared check.
        on_served_port = health is not None and health.port in (None, service.target_port)
        http = health is not None and health.kind == "http" and on_served_port
        if http and not _CHECK_PATH.match(health.path):
            raise HAProxyError(
                f"service {service.name}: health check path {health.path!r} cannot go into "
                "an HAProxy config",
                hint="use a path starting with / without spaces, quotes, # or backslashes",
            )
        servers = []
        seen: set[str] = set()
        for endpoint in sorted(service.endpoints, key=lambda e: (slot_key(e.slot), e.host)):
            name = endpoint.server_name
            _check_name(name, "server")
            if name in seen:
                raise HAProxyError(f"service {service.name}: two endpoints named {name}")
            seen.add(name)
            servers.append(ServerView(name, _address(endpoint.address), endpoint.port,
                                      endpoint.weight, endpoint.healthy))  # fmt: skip
        interval, timeout = (health.interval, health.timeout) if health else (2.0, 2.0)
        views.append(BackendView(
            name=service.name, lb_port=service.lb_port, check="http" if http else "tcp",
            check_path=health.path if http else "", inter=duration(interval),
            fall=health.fall if health else 3, rise=health.rise if health else 2,
            check_timeout=duration(timeout), servers=tuple(servers),
        ))  # fmt: skip
    return tuple(views)


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise HAProxyError(f"{what} name {name!r} is not a valid HAProxy name",
                           hint="letters, digits, '.', '_', ':' and '-' only")  # fmt: skip


def _address(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if not _HOSTNAME.match(address):
            raise HAProxyError(
                f"endpoint address {address!r} is neither an IP nor a host name"
            ) from None
        return address
    return f"[{ip}]" if ip.version == 6 else str(ip)


def render_config(
    snapshot: Snapshot,
    template_path: str | Path | None = None,
    *,
    stats_socket: str = STATS_SOCKET,
    state_file: str = STATE_FILE,
) -> str:
    """haproxy.cfg for the snapshot (pure: the same snapshot gives the same text, whatever the
    order of its services and endpoints, so an unchanged cluster never causes a reload)."""
    path = Path(template_path) if template_path is not None else DEFAULT_TEMPLATE
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,  # a typo in the template is an error, not a blank
        autoescape=False,
    )
    try:
        template = environment.get_template(path.name)
        text = template.render(
            backends=backend_views(snapshot), stats_socket=stats_socket, state_file=state_file
        )
    except jinja2.TemplateNotFound:
        raise HAProxyError(f"HAProxy template {path} does not exist") from None
    except jinja2.TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise HAProxyError(f"{where}: {error}") from None
    return text.rstrip("\n") + "\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def configured_servers(text: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(backend, server) -> (address, port) of every `server` line in a config (pure). Only
    what a rendered config contains: backend sections and ADDRESS:PORT server lines."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    backend = None
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if not raw[0].isspace():  # a section header
            backend = words[1] if words[0] in ("backend", "listen") and len(words) > 1 else None
        elif backend and words[0] == "server" and len(words) > 2:
            address, _, port = words[2].rpartition(":")
            if port.isdigit():
                found[(backend, words[1])] = (address.strip("[]"), int(port))
    return found


def carried_state(dump: str, text: str) -> str:
    """The part of a `show servers state` dump the next process may load (pure): only servers
    the new config has at the same address and port. HAProxy 2.6 applies a state line's address
    and port over the config's (a known design limit of the state file), so a replica that moved
    must lose its line; its new server then starts from the config."""
    lines = dump.splitlines()
    if len(lines) < 2 or not lines[1].startswith("#"):
        return ""
    columns = lines[1].lstrip("#").split()
    try:
        be, srv, addr, port = (columns.index(c) for c in ("be_name", "srv_name", "srv_addr",
                                                           "srv_port"))  # fmt: skip
    except ValueError:
        return ""  # a format we do not know: carry nothing rather than something wrong
    wanted = configured_servers(text)
    kept = lines[:2]
    for line in lines[2:]:
        fields = line.split()
        if len(fields) <= max(be, srv, addr, port) or line.startswith("#"):
            continue
        configured = wanted.get((fields[be], fields[srv]))
        if configured is not None and (configured[0], str(configured[1])) == (
            fields[addr], fields[port]
        ):  # fmt: skip
            kept.append(line)
    return "\n".join(kept) + "\n"


# --- install and reload (one LB host, one SSH connection) -------------------------------------


@dataclass(frozen=True)
class InstallResult:
    """What one install did on one LB host."""

    action: str  # "unchanged" | "reloaded" | "started"
    previous_sha: str | None  # of the file that was there (None: there was none)
    sha: str  # of the file now there
    state_saved: bool = False  # server state written for the new process to load
    round_trips: int = 0  # commands and runtime-API calls on the connection
    seconds: float = 0.0
    reload_seconds: float | None = None  # signal (or start) until the new worker runs

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"


# $1 config path, $2 pidfile. Prints the installed file's sha256 and whether HAProxy runs.
_PROBE = r"""
sha=$(sha256sum "$1" 2>/dev/null) && echo "sha=${sha%% *}"
pid=$(cat "$2" 2>/dev/null) && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ] &&
    echo running=1
true
"""

# $1 config path, $2 expected sha256 of stdin, $3 pidfile, $4 stats socket, $5 state file.
# Exit 3: haproxy -c rejected the file (its output on stderr); 4: the text arrived damaged;
# 5: no new worker after the reload signal; 6: haproxy did not start.
_INSTALL = r"""
set -u
cfg=$1 want=$2 pidfile=$3 sock=$4 state=$5 new="$1.new"
centis() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}"; }
children() {  # pids whose parent is $1, from /proc (no procps needed)
    for f in /proc/[0-9]*/stat; do
        read -r p _ _ pp _ <"$f" 2>/dev/null && [ "$pp" = "$1" ] && echo "$p"
    done
}
mkdir -p "${cfg%/*}" "${sock%/*}" "${state%/*}" || exit 1
umask 022
cat >"$new" || { rm -f "$new"; exit 1; }
got=$(sha256sum "$new") && got=${got%% *}
if [ "$got" != "$want" ]; then  # a dropped stream must not install half a config
    rm -f "$new"; echo "the config arrived damaged (sha256 $got, expected $want)" >&2; exit 4
fi
if ! out=$(haproxy -c -f "$new" 2>&1); then
    rm -f "$new"; printf '%s\n' "$out" >&2; exit 3
fi
if [ -f "$cfg" ]; then  # the previous file, kept by a second name (unless it is this text)
    cur=$(sha256sum "$cfg") && [ "${cur%% *}" = "$want" ] || ln -f "$cfg" "$cfg.prev"
fi
sync "$new" 2>/dev/null || sync  # the data is on disk before the name points at it
mv -f "$new" "$cfg"
sync "${cfg%/*}" 2>/dev/null || true  # and so is the rename
start=$(centis)
pid=$(cat "$pidfile" 2>/dev/null) || pid=
[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ] || pid=
old=$([ -n "$pid" ] && echo $(children "$pid"))
if [ -n "$old" ]; then
    # Master-worker: the master re-executes itself with the new file, takes the listening
    # sockets from the old worker (-x, automatic with `expose-fd listeners`) and lets it finish
    # its requests (-sf). Done when a worker that was not there before runs.
    kill -USR2 "$pid"
    tries=0
    while :; do
        for c in $(children "$pid"); do
            case " $old " in *" $c "*) ;; *) echo action=reloaded; break 2 ;; esac
        done
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then
            echo "no new haproxy worker 10 s after the reload signal (the old one serves on)" >&2
            exit 5
        fi
        sleep 0.05
    done
else
    if [ -n "$pid" ]; then
        # A haproxy outside master-worker mode: a new master takes its sockets and ends it.
        set -- -x "$sock" -sf "$pid"
        action=reloaded
    else
        set --
        action=started
        rm -f "$state"  # no process saved it for this config: it can only be stale
    fi
    log=$(mktemp)
    if ! haproxy -W -D -f "$cfg" -p "$pidfile" "$@" </dev/null >/dev/null 2>"$log"; then
        cat "$log" >&2; rm -f "$log"; exit 6
    fi
    rm -f "$log"
    echo "action=$action"
fi
echo "reload_centis=$(($(centis) - start))"
"""


def _fields(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


async def install(
    connection: Connection,
    text: str,
    *,
    path: str = CONFIG_PATH,
    pidfile: str = PIDFILE,
    stats_socket: str = STATS_SOCKET,
    state_file: str = STATE_FILE,
) -> InstallResult:
    """Install `text` as HAProxy's config on the connection's host and reload it seamlessly,
    only if it differs from the installed file (one round trip when it does not). A text
    `haproxy -c` rejects raises ConfigInvalid with haproxy's message, leaving the installed file
    and the running process as they were. `stats_socket` and `state_file` must be the paths the
    config names (render_config's defaults are these)."""
    started = time.monotonic()
    sha = sha256(text)
    probe = await connection.run(Command.argv("sh", "-c", _PROBE, "probe", path, pidfile))
    if not probe.ok:
        raise HAProxyError(f"{connection.name}: cannot read {path}: {probe.stderr.strip()}")
    found = _fields(probe.stdout)
    previous, running = found.get("sha"), found.get("running") == "1"
    trips = 1
    if previous == sha and running:
        return InstallResult("unchanged", previous, sha, round_trips=trips,
                             seconds=time.monotonic() - started)  # fmt: skip
    state_saved = False
    if running:
        state_saved, calls = await _save_state(connection, text, stats_socket, state_file)
        trips += calls
    done = await connection.run(
        Command.argv("sh", "-c", _INSTALL, "install", path, sha, pidfile, stats_socket,
                     state_file),
        stdin=text.encode(),
    )  # fmt: skip
    trips += 1
    if done.rc == 3:
        alerts = [line for line in done.stderr.splitlines() if "ALERT" in line]
        summary = "; ".join(alerts[:3]) or done.stderr.strip()[-500:]
        raise ConfigInvalid(f"{connection.name}: haproxy -c rejected the config: {summary}",
                            done.stderr)  # fmt: skip
    if not done.ok:
        raise HAProxyError(f"{connection.name}: installing {path} failed (exit {done.rc}): "
                           f"{done.stderr.strip()}")  # fmt: skip
    result = _fields(done.stdout)
    centis = result.get("reload_centis", "")
    return InstallResult(
        action=result.get("action", "reloaded"), previous_sha=previous, sha=sha,
        state_saved=state_saved, round_trips=trips, seconds=time.monotonic() - started,
        reload_seconds=int(centis) / 100 if centis.lstrip("-").isdigit() else None,
    )  # fmt: skip


async def _save_state(
    connection: Connection, text: str, stats_socket: str, state_file: str
) -> tuple[bool, int]:
    """Write what the running process knows of its servers (maintenance, drain, health,
    weights) for the next one to load, from the controller: the LB host need not have socat.
    Returns (saved, round trips). A failure only costs the carried state, never the install."""
    api = RuntimeAPI(connection, socket_path=stats_socket)
    try:
        async with api:
            dump = await api.servers_state_dump()
        await connection.put(carried_state(dump, text).encode(), state_file, 0o600)
        return True, api.calls + 1
    except (HAProxyError, OSError):
        return False, api.calls + 1


# --- the runtime API (haproxyadmin over a forwarded unix socket) ------------------------------


@dataclass(frozen=True)
class ServerState:
    """One server as `show servers state` reports it."""

    admin: int  # srv_admin_state bit mask: 0x01 forced maint, 0x04 config maint, 0x08 drain
    operational: int  # 0 down, 1 starting, 2 up, 3 stopping
    weight: int

    @property
    def maint(self) -> bool:
        return bool(self.admin & 0x27)  # forced, inherited, config or DNS-resolution maint

    @property
    def drain(self) -> bool:
        return bool(self.admin & 0x18)  # forced or inherited drain


T = TypeVar("T")


class RuntimeAPI:
    """HAProxy's runtime API on one LB host, as an async context manager: a local unix socket
    on the controller is forwarded over the host's SSH connection to the stats socket, and
    haproxyadmin talks to the local end. haproxyadmin blocks, so each call runs in a thread
    while the event loop carries the forwarded bytes. On a local connection (the controller is
    the LB host) haproxyadmin uses the socket itself."""

    def __init__(self, connection: Connection, *, socket_path: str = STATS_SOCKET,
                 timeout: float = 5.0):  # fmt: skip
        self.connection = connection
        self.socket_path = socket_path
        self.timeout = timeout
        self.calls = 0  # socket connections made (each an SSH channel when forwarded)
        self._listener: Any = None
        self._directory: str | None = None
        self._hap: Any = None

    async def __aenter__(self) -> RuntimeAPI:
        local = self.socket_path
        raw = getattr(self.connection, "raw", None)  # the asyncssh connection of an SSH one
        if raw is not None:
            self._directory = tempfile.mkdtemp(prefix="orchestr-haproxy-")  # mode 700
            local = os.path.join(self._directory, "admin.sock")
            try:
                self._listener = await raw.forward_local_path(local, self.socket_path)
            except OSError as error:
                await self._close()
                raise HAProxyError(f"{self.connection.name}: cannot forward "
                                   f"{self.socket_path}: {error}") from None  # fmt: skip
        try:
            # retry=None: one attempt per call; whoever called us decides about retrying.
            self._hap = await self._thread(
                lambda: HAProxy(socket_file=local, retry=None, timeout=self.timeout),
                calls=2,  # it asks `show info` twice: once to probe the socket, once for its pid
            )
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            with contextlib.suppress(Exception):
                await self._listener.wait_closed()
            self._listener = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    async def _thread(self, call: Callable[[], T], calls: int = 1) -> T:
        self.calls += calls
        try:
            return await asyncio.to_thread(call)
        except CommandFailed as error:
            raise HAProxyError(f"{self.connection.name}: HAProxy refused: {error}") from None
        except (ValueError, OSError, HAProxyBaseError) as error:
            raise HAProxyError(f"{self.connection.name}: HAProxy runtime API on "
                               f"{self.socket_path}: {error}") from None  # fmt: skip

    def _command(self, text: str) -> list[str]:
        """haproxyadmin's raw passthrough (HAProxy.command): [(process, lines)] per process;
        master-worker runs one worker, so one answer."""
        answers = self._hap.command(text)
        return list(answers[0][1]) if answers else []

    async def set_state(self, backend: str, server: str, state: str) -> None:
        """ready, drain (no new clients, checks go on) or maint (no traffic, no checks)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        # haproxyadmin's Server.setstate sends `set server B/S state X`, which is what 2.6 has;
        # finding the server costs it two `show stat` calls.
        await self._thread(lambda: self._hap.server(server, backend=backend)[0].setstate(state),
                           calls=3)  # fmt: skip

    async def weight(self, backend: str, server: str, value: int | None = None) -> int:
        """The server's current weight; with `value`, set it first (0-256)."""
        if value is not None:
            if not 0 <= value <= 256:
                raise ValueError(f"weight must be 0-256, not {value}")
            if value == 256:
                # haproxyadmin's setweight stops at 255; HAProxy 2.6 takes 256: raw passthrough.
                answer = await self._thread(lambda: self._command(f"set weight {backend}/"
                                                                  f"{server} 256"))  # fmt: skip
                if any(line.strip() for line in answer):
                    raise HAProxyError(f"{self.connection.name}: {' '.join(answer).strip()}")
            else:
                await self._thread(
                    lambda: self._hap.server(server, backend=backend)[0].setweight(value), calls=3
                )
        return int(await self._thread(lambda: self._hap.server(server, backend=backend)[0].weight,
                                      calls=3))  # fmt: skip

    async def servers(self, backend: str) -> dict[str, str]:
        """Server name -> status as the stats page shows it (UP, DOWN, MAINT, DRAIN, no check,
        `UP 1/2` while a check is going, ...)."""
        # haproxyadmin's Server.status re-reads `show stat` at every access (one socket
        # connection, here one SSH channel, per server): read the table once through its raw
        # passthrough and parse it with its own stat2dict. The whole table: `show stat NAME`
        # picks the frontend, which shares the service's name, and a frontend has no servers.
        lines = await self._thread(lambda: self._command("show stat -1 6 -1"))
        table = stat2dict(lines)["backends"] if lines and lines[0].startswith("#") else {}
        if backend not in table:
            raise HAProxyError(f"{self.connection.name}: HAProxy has no backend {backend!r}")
        return {name: line.status for name, line in table[backend]["servers"].items()}

    async def servers_state_dump(self) -> str:
        """`show servers state` as HAProxy writes it: the server-state file's format.
        haproxyadmin has no method for it: raw passthrough."""
        lines = await self._thread(lambda: self._command("show servers state"))
        return "\n".join(lines) + "\n"

    async def server_states(self) -> dict[str, dict[str, ServerState]]:
        """Backend -> server -> admin and operational state, in one call."""
        return parse_servers_state(await self.servers_state_dump())


def parse_servers_state(dump: str) -> dict[str, dict[str, ServerState]]:
    """`show servers state` (format 1) by backend and server (pure)."""
    lines = dump.splitlines()
    if len(lines) < 2 or not lines[1].startswith("#"):
        return {}
    columns = lines[1].lstrip("#").split()
    index = {name: i for i, name in enumerate(columns)}
    wanted = ("be_name", "srv_name", "srv_admin_state", "srv_op_state", "srv_uweight")
    if any(name not in index for name in wanted):
        return {}
    found: dict[str, dict[str, ServerState]] = {}
    for line in lines[2:]:
        fields = line.split()
        if line.startswith("#") or len(fields) < len(columns):
            continue
        found.setdefault(fields[index["be_name"]], {})[fields[index["srv_name"]]] = ServerState(
            admin=int(fields[index["srv_admin_state"]]),
            operational=int(fields[index["srv_op_state"]]),
            weight=int(fields[index["srv_uweight"]]),
        )
    return found


@dataclass(frozen=True)
class Change:
    """One runtime-state change sync_runtime made."""

    backend: str
    server: str
    state: str  # what it was set to: ready | drain | maint
    reason: str


async def sync_runtime(api: RuntimeAPI, snapshot: Snapshot, *, down: str = "maint"
                       ) -> tuple[Change, ...]:  # fmt: skip
    """Make the running HAProxy agree with the snapshot's health marks, between reloads: an
    endpoint marked unhealthy goes to `down` (maint: no traffic and no checks; drain: no new
    clients, checks go on), a healthy one that is in maintenance or drain is made ready.
    Servers the running config does not have yet are left to the next reload. One call to read
    the states, one per change (concurrently). Note that this owns the admin state of every
    endpoint it knows: a healthy server put in maintenance by hand is made ready again."""
    if down not in ("maint", "drain"):
        raise ValueError(f"down must be maint or drain, not {down!r}")
    states = await api.server_states()
    changes: list[Change] = []
    for service in sorted(snapshot.services, key=lambda s: s.name):
        if service.lb_port is None:
            continue
        running = states.get(service.name, {})
        for endpoint in service.endpoints:
            state = running.get(endpoint.server_name)
            if state is None:
                continue
            if not endpoint.healthy and not (state.maint or (down == "drain" and state.drain)):
                changes.append(Change(service.name, endpoint.server_name, down, "unhealthy"))
            elif endpoint.healthy and (state.maint or state.drain):
                changes.append(Change(service.name, endpoint.server_name, "ready", "recovered"))
    outcomes = await asyncio.gather(
        *(api.set_state(c.backend, c.server, c.state) for c in changes), return_exceptions=True
    )
    failed = [
        f"{change.backend}/{change.server} -> {change.state}: {outcome}"
        for change, outcome in zip(changes, outcomes, strict=True)
        if isinstance(outcome, BaseException)
    ]
    if failed:  # the others were made: the next sweep reads the states again
        raise HAProxyError(f"{len(failed)} of {len(changes)} runtime changes failed: "
                           + "; ".join(failed))  # fmt: skip
    return tuple(changes)


def balancer_names(inventory: Any, pattern: str | None = None) -> list[str]:
    """The LB hosts: the inventory group `lb`, or the hosts of a configured pattern."""
    return [host.name for host in inventory.select(pattern or LB_PATTERN)]
