"""Docker's JSON output and the docker CLI's value syntaxes (durations, sizes, published ports,
volumes) read into plain values, so modules compare like with like. Pure: no I/O."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

# Printed between the outputs of commands chained into one round trip.
SEPARATOR = "--orchestr-section--"

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)")

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$", re.IGNORECASE)

_PROTOCOLS = ("tcp", "udp", "sctp")


class ParseError(ValueError):
    """A value a user wrote that docker would not accept either."""


# -- one round trip, several outputs -------------------------------------------------------


def sections(stdout: str) -> list[str]:
    """The outputs of commands chained with `echo SEPARATOR` between them."""
    return [part.strip() for part in stdout.split(SEPARATOR)]


def inspect_one(text: str) -> dict[str, Any] | None:
    """The object a `docker inspect` printed, or None when it found nothing (prints `[]`)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"docker inspect printed something that is not JSON: {error}") from None
    if isinstance(value, list):
        return value[0] if value else None
    if isinstance(value, dict):
        return value
    raise ParseError("docker inspect printed neither an object nor a list")


# How docker reports that an inspected object does not exist (and nothing worse).
_ABSENT = re.compile(
    r"no such (object|container|image|network)|^error response from daemon: network .+ not found$",
    re.IGNORECASE,
)


def unexpected_errors(stderr: str) -> list[str]:
    """stderr lines other than docker's "no such object" (how absence is reported): a missing
    docker ("sh: docker: not found"), a daemon that is down, a permission denied..."""
    return [line for line in stderr.splitlines() if line.strip() and not _ABSENT.search(line)]


# -- durations and sizes ------------------------------------------------------------------


def parse_duration(value: str | int | float) -> int:
    """A duration as community.docker and Go write it ("30s", "1m30s", "1h", "500ms"; a bare
    number is seconds), in nanoseconds: docker's unit for healthcheck timings."""
    if isinstance(value, bool):
        raise ParseError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ParseError(f"{value!r} is a negative duration")
        return round(value * 1_000_000_000)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return round(float(text) * 1_000_000_000)
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _NS_PER_UNIT[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ParseError(f"{value!r} is not a duration (examples: 30s, 1m30s, 500ms, 1h)")
    return round(total)


def format_duration(ns: int) -> str:
    """Nanoseconds as a Go duration the docker CLI reads back to the same value."""
    for unit in ("h", "m", "s", "ms", "us"):
        if ns and ns % _NS_PER_UNIT[unit] == 0:
            return f"{ns // _NS_PER_UNIT[unit]}{unit}"
    return f"{ns}ns"


def parse_size(value: str | int) -> int:
    """A memory size as docker reads it ("512m", "1g", "1.5G", "2048"; 1024-based), in bytes."""
    if isinstance(value, bool):
        raise ParseError(f"{value!r} is not a size")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ParseError(f"{value!r} is not a size (examples: 512m, 1g, 268435456)")
    # truncated, as docker (Go's int64 conversion) does: "1.3m" is 1363148 bytes
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


# -- published ports ----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class PortBinding:
    """One entry of HostConfig.PortBindings: container port "80/tcp" to host address:port."""

    container: str
    host_ip: str = ""
    host_port: str = ""  # "" for a port docker picks; "8000-8010" for a host range


def _port_range(text: str, spec: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise ParseError(f"{spec!r}: {text!r} is not a port or a range of ports") from None
    if not (1 <= low <= high <= 65535):
        raise ParseError(f"{spec!r}: {text!r} is not a port range within 1-65535")
    return low, high


def parse_port_spec(spec: str | int) -> tuple[PortBinding, ...]:
    """`[ip:][host_port:]container_port[/protocol]` (ranges allowed, IPv6 in brackets) as the
    bindings docker records for `--publish SPEC`."""
    text = str(spec).strip()
    body, slash, protocol = text.rpartition("/") if "/" in text else (text, "", "tcp")
    protocol = protocol.lower()
    if slash and protocol not in _PROTOCOLS:
        raise ParseError(f"{text!r}: protocol must be one of {', '.join(_PROTOCOLS)}")
    host_ip = ""
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1 : end + 2] != ":":
            raise ParseError(f"{text!r}: an IPv6 address is written [address]:host:container")
        host_ip, body = body[1:end], body[end + 2 :]
        parts = body.split(":")
        if len(parts) == 1:
            parts = ["", parts[0]]
    else:
        parts = body.split(":")
        if len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
    if len(parts) > 2 or not parts[-1]:
        raise ParseError(f"{text!r} is not [ip:][host_port:]container_port[/protocol]")
    host = parts[0] if len(parts) == 2 else ""
    low, high = _port_range(parts[-1], text)
    count = high - low + 1
    if not host:
        return tuple(
            PortBinding(f"{port}/{protocol}", host_ip, "") for port in range(low, high + 1)
        )
    host_low, host_high = _port_range(host, text)
    if count == 1:
        host_port = str(host_low) if host_low == host_high else f"{host_low}-{host_high}"
        return (PortBinding(f"{low}/{protocol}", host_ip, host_port),)
    if host_high - host_low + 1 != count:
        raise ParseError(f"{text!r}: the host and container ranges differ in length")
    return tuple(
        PortBinding(f"{low + i}/{protocol}", host_ip, str(host_low + i)) for i in range(count)
    )


def port_bindings(observed: dict[str, Any] | None) -> dict[str, frozenset[tuple[str, str]]]:
    """HostConfig.PortBindings as {"80/tcp": {(host_ip, host_port), ...}}."""
    result: dict[str, frozenset[tuple[str, str]]] = {}
    for port, bindings in (observed or {}).items():
        result[port] = frozenset(
            (binding.get("HostIp") or "", binding.get("HostPort") or "")
            for binding in bindings or [{}]
        )
    return result


def bindings_by_port(bindings: tuple[PortBinding, ...]) -> dict[str, frozenset[tuple[str, str]]]:
    grouped: dict[str, set[tuple[str, str]]] = {}
    for binding in bindings:
        grouped.setdefault(binding.container, set()).add((binding.host_ip, binding.host_port))
    return {port: frozenset(pairs) for port, pairs in grouped.items()}


# -- volumes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeSpec:
    """`[source:]target[:mode]`: a bind mount or named volume, or an anonymous volume."""

    source: str
    target: str
    mode: str = ""

    @property
    def key(self) -> str:
        """What compares equal however it was written: mode spelled out ("rw" by default)."""
        if not self.source:
            return self.target
        return f"{self.source}:{self.target}:{self.mode or 'rw'}"


def parse_volume(spec: str) -> VolumeSpec:
    parts = str(spec).split(":")
    if len(parts) == 1 and parts[0]:
        return VolumeSpec("", parts[0])
    if len(parts) in (2, 3) and all(parts[:2]) and (len(parts) == 2 or parts[2]):
        return VolumeSpec(parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    raise ParseError(f"{spec!r} is not [source:]target[:mode]")


# -- other fields -------------------------------------------------------------------------


def env_dict(entries: list[str] | None) -> dict[str, str]:
    """Config.Env ["K=V", ...] as a dict (a later entry wins, as in the container)."""
    result: dict[str, str] = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        result[key] = value
    return result


def capability(name: str) -> str:
    """NET_ADMIN, net_admin and CAP_NET_ADMIN are the same capability (docker adds CAP_)."""
    upper = name.strip().upper()
    return upper if upper == "ALL" or upper.startswith("CAP_") else f"CAP_{upper}"


def health_test(test: list[str] | tuple[str, ...] | str | None) -> str | None:
    """A healthcheck test in one comparable form: the shell line it runs, or "NONE"."""
    if test is None:
        return None
    if isinstance(test, str):
        return test
    words = list(test)
    if not words:
        return None
    if words[0] == "NONE":
        return "NONE"
    if words[0] == "CMD-SHELL":
        return " ".join(words[1:])
    if words[0] == "CMD":
        words = words[1:]
    return shlex.join(words)
