"""Health probes as values: which address a probe connects to, the sh snippet each kind runs on
the host, one script running a host's probes at once, its output read back, and the
rise/fall counters that turn single results into a status. Pure: no I/O."""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote as url_quote

from orchestr.cluster.model import Container
from orchestr.cluster.spec_types import HealthSpec

OK = "ok"
FAIL = "fail"
NO_ANSWER = "no answer"
DETAIL_MAX = 200  # characters of detail kept: a short line is written at once (see _report)
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Probe:
    """One check of one container, as run from its host.

    address/port: where the host connects (http, tcp); exec and docker only need `container`."""

    key: str  # what the result is reported under: the container's name
    spec: HealthSpec
    container: str  # the docker name, for exec and docker
    address: str = ""
    port: int = 0

    def __post_init__(self) -> None:
        # The key starts an output line and ends at a tab: a tab or newline would forge lines.
        if not self.key or any(c in self.key for c in "\t\n\r"):
            raise ValueError(f"probe key {self.key!r} must be non-empty, without tabs or newlines")


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


def probe_for(container: Container, spec: HealthSpec) -> Probe | None:
    """The probe checking `container` as `spec` says, or None when nothing can be checked:
    an http/tcp check with no port to check (no spec.port and the container publishes none),
    or whose port is not published and the container's IP is unknown (not running, or not
    observed yet); an exec check with no command.

    The checked container port is spec.port, else the container's first published one. A
    published port is reached on the host's loopback (docker publishes on all addresses by
    default; a port bound to one other address only would not answer there), an unpublished one
    on the container's own IP, which the host routes to on docker's bridge networks."""
    if spec.kind not in KINDS:
        raise ValueError(f"unknown health check kind {spec.kind!r} (known: {', '.join(KINDS)})")
    if spec.kind == "exec" and not spec.command:
        return None
    port = spec.port if spec.port is not None else _first_port(container)
    published = dict(container.ports).get(port) if port is not None else None
    if published is not None:
        address, host_port = LOOPBACK, published
    elif port is not None and container.address:
        address, host_port = container.address, port
    else:
        address, host_port = "", 0
    if spec.kind in ("http", "tcp") and not address:
        return None
    return Probe(container.name, spec, container.name, address, host_port)


def _first_port(container: Container) -> int | None:
    return container.ports[0][0] if container.ports else None


# --- the snippets: each prints exactly one line KEY<TAB>ok|fail<TAB>detail ----------------------


def _seconds(timeout: float) -> str:
    # Whole seconds, rounded up: busybox's timeout, wget and nc take no fractions.
    return str(max(1, math.ceil(timeout)))


def _report(probe: Probe) -> str:
    """The snippet's last line, from the $s (ok|fail) and $d (detail) it set.

    Only the first line of the detail is kept, tabs blanked, cut short: a container's output
    (exec) can never forge a result line, and the line is written by one printf, under
    PIPE_BUF, so lines of probes running at once never interleave."""
    return (
        f"printf '%s\\t%s\\t%s\\n' {shlex.quote(probe.key)} \"$s\" "
        f"\"$(printf '%s\\n' \"$d\" | head -n 1 | tr '\\t\\r' '  ' | cut -c 1-{DETAIL_MAX})\""
    )


_URL_SAFE = "/?&=%:@!$'()*+,;~"


def _url(probe: Probe) -> str:
    host = f"[{probe.address}]" if ":" in probe.address else probe.address
    path = probe.spec.path if probe.spec.path.startswith("/") else "/" + probe.spec.path
    # Spaces and other unsafe characters percent-encoded; reserved ones and %XX left as written.
    return f"http://{host}:{probe.port}{url_quote(path, safe=_URL_SAFE)}"


def _curl_fetch(probe: Probe) -> str:
    # -w writes the code after curl's own error message (-S): the last word of $out is the code.
    words = ["curl", "-sS", "-o", "/dev/null", "-w", " %{http_code}",
             "--max-time", _seconds(probe.spec.timeout), _url(probe)]  # fmt: skip
    return f"out=$({shlex.join(words)} 2>&1)\nrc=$? code=${{out##* }} out=${{out% *}}"


# wget -S prints the response's status line; the first one is the endpoint's own answer (wget
# follows redirects, curl does not: both judge the first response). wget runs under timeout,
# not -T: busybox builds without the timeout feature crash on -T (Debian 12's segfaults), and
# GNU wget's -T bounds each phase, not the whole request.
_STATUS_SED = r"s|.*HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p"


def _wget_fetch(probe: Probe) -> str:
    words = ["timeout", _seconds(probe.spec.timeout), "wget", "-q", "-S", "-O", "/dev/null",
             _url(probe)]  # fmt: skip
    return (
        f"out=$({shlex.join(words)} 2>&1)\n"
        f"rc=$? code=$(printf '%s\\n' \"$out\" | sed -n {shlex.quote(_STATUS_SED)} | head -n 1)"
    )


def _http_verdict(probe: Probe) -> str:
    # 200-399 passes, as Kubernetes' httpGet and HAProxy's httpchk. 124: coreutils' timeout;
    # 143: busybox's (the child's SIGTERM).
    return (
        "case $rc:$code in\n"
        "*:[23][0-9][0-9]) s=ok d=$code ;;\n"
        "*:[1-9][0-9][0-9]) s=fail d=$code ;;\n"
        f"124:*|143:*) s=fail d='timed out after {_seconds(probe.spec.timeout)}s' ;;\n"
        "*) s=fail d=${out:-exit $rc} ;;\n"
        "esac"
    )


def http_curl(probe: Probe) -> str:
    """The http check with curl only."""
    return "\n".join((_curl_fetch(probe), _http_verdict(probe), _report(probe)))


def http_wget(probe: Probe) -> str:
    """The http check with wget only (GNU or busybox), as on a host without curl."""
    return "\n".join((_wget_fetch(probe), _http_verdict(probe), _report(probe)))


def http(probe: Probe) -> str:
    """curl when the host has it, else wget (busybox images and Alpine hosts have wget only)."""
    return "\n".join((
        "if command -v curl >/dev/null 2>&1; then",
        _curl_fetch(probe),
        "else",
        _wget_fetch(probe),
        "fi",
        _http_verdict(probe),
        _report(probe),
    ))  # fmt: skip


def tcp(probe: Probe) -> str:
    """A connect within the timeout: bash's /dev/tcp when bash is there, else nc -z.
    The address and port reach bash as arguments, never as script text."""
    seconds = _seconds(probe.spec.timeout)
    address, port = shlex.quote(probe.address), str(probe.port)
    connect = shlex.quote('</dev/tcp/"$1"/"$2"')
    return "\n".join((
        "if command -v bash >/dev/null 2>&1; then",
        f"out=$(timeout {seconds} bash -c {connect} bash {address} {port} 2>&1)",
        "else",
        f"out=$(nc -z -w {seconds} {address} {port} 2>&1)",
        "fi",
        "rc=$?",
        "case $rc in",
        "0) s=ok d=connected ;;",
        f"124|143) s=fail d='timed out after {seconds}s' ;;",
        "*) s=fail d=${out:-exit $rc} ;;",
        "esac",
        _report(probe),
    ))  # fmt: skip


def exec_command_line(command: Sequence[str]) -> str:
    """spec.command as the line `sh -c` runs in the container: one item is a shell line as
    written (pipes, &&), several are an argv, each word quoted."""
    return command[0] if len(command) == 1 else shlex.join(command)


def exec_(probe: Probe) -> str:
    """The command in the container exits 0. A timeout stops the docker client; the command
    inside may run on (docker has no way to kill an exec), as with Kubernetes' exec probes."""
    seconds = _seconds(probe.spec.timeout)
    words = ["timeout", seconds, "docker", "exec", probe.container,
             "sh", "-c", exec_command_line(probe.spec.command)]  # fmt: skip
    return "\n".join((
        f"out=$({shlex.join(words)} 2>&1)",
        "rc=$?",
        "case $rc in",
        "0) s=ok d='exit 0' ;;",
        f"124|143) s=fail d='timed out after {seconds}s' ;;",
        '*) s=fail d="exit $rc${out:+: $out}" ;;',
        "esac",
        _report(probe),
    ))  # fmt: skip


# A container whose image has no HEALTHCHECK has no .State.Health at all: say so plainly
# rather than passing on a template error.
_HEALTH_TEMPLATE = "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"


def docker(probe: Probe) -> str:
    """Docker's own HEALTHCHECK status is healthy."""
    seconds = _seconds(probe.spec.timeout)
    words = ["timeout", seconds, "docker", "inspect", "--type", "container",
             "-f", _HEALTH_TEMPLATE, probe.container]  # fmt: skip
    return "\n".join((
        f"out=$({shlex.join(words)} 2>&1)",
        "rc=$?",
        "case $rc:$out in",
        "0:healthy) s=ok d=healthy ;;",
        "0:none) s=fail d='no HEALTHCHECK in the image: docker reports no health' ;;",
        f"124:*|143:*) s=fail d='timed out after {seconds}s' ;;",
        "*) s=fail d=${out:-exit $rc} ;;",
        "esac",
        _report(probe),
    ))  # fmt: skip


KINDS: dict[str, Callable[[Probe], str]] = {
    "http": http,
    "tcp": tcp,
    "exec": exec_,
    "docker": docker,
}


def probe_script(probes: Sequence[Probe]) -> str:
    """One sh script running every probe at once as background jobs, then `wait`: a host's
    probes cost one round trip, as long as the slowest timeout. Each job prints its one line;
    a background job's stdin is /dev/null in a non-interactive sh, so none can eat the script."""
    keys = [probe.key for probe in probes]
    if len(set(keys)) != len(keys):
        raise ValueError("probe keys must be unique: results are reported by key")
    jobs = []
    for probe in probes:
        snippet = KINDS.get(probe.spec.kind)
        if snippet is None:
            raise ValueError(f"unknown health check kind {probe.spec.kind!r}")
        jobs.append(f"(\n{snippet(probe)}\n) &")
    return "\n".join((*jobs, "wait", ""))


def parse_probe_output(text: str, keys: Iterable[str] = ()) -> dict[str, ProbeResult]:
    """Results by key from the script's output. Lines not of the form KEY<TAB>ok|fail<TAB>detail
    are noise (a login banner, a shell warning) and skipped; given `keys`, lines for other keys
    are too, and every key without a line failed with "no answer". A key's first line counts."""
    wanted = set(keys)
    results: dict[str, ProbeResult] = {}
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3 or parts[1] not in (OK, FAIL):
            continue
        key, verdict, detail = parts
        if (wanted and key not in wanted) or key in results:
            continue
        results[key] = ProbeResult(verdict == OK, detail)
    for key in wanted - results.keys():
        results[key] = ProbeResult(False, NO_ANSWER)
    return results


# --- rise and fall -------------------------------------------------------------------------------

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class HealthState:
    """A replica's health as HAProxy counts it: consecutive passes and failures, and the status
    they have led to since `since` (a time in the caller's clock)."""

    status: str  # starting | healthy | unhealthy
    successes: int  # consecutive passes, up to rise
    failures: int  # consecutive failures that count (none during the start period), up to fall
    since: float


def advance(
    state: HealthState | None, ok: bool, now: float, spec: HealthSpec, started_at: float
) -> HealthState:
    """The state after one more result. A new replica starts as starting; `rise` consecutive
    passes make it healthy, `fall` consecutive failures unhealthy, from any status. Failures in
    the first `start_period` seconds after started_at do not count toward fall (they still break
    a run of passes); passes always count. `since` moves only when the status changes.

    The counters stop at rise and fall: a steady replica's state stops changing, so a caller
    can tell "nothing new" by equality and skip storing it."""
    current = state or HealthState(STARTING, 0, 0, started_at)
    rise, fall = max(1, spec.rise), max(1, spec.fall)
    if ok:
        successes, failures = min(current.successes + 1, rise), 0
        status = HEALTHY if successes >= rise else current.status
    else:
        counted = now >= started_at + spec.start_period
        successes, failures = 0, min(current.failures + (1 if counted else 0), fall)
        status = UNHEALTHY if counted and failures >= fall else current.status
    since = current.since if status == current.status else now
    return HealthState(status, successes, failures, since)
