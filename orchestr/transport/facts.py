"""Minimal host facts in one round trip, with nothing but sh, awk and docker on the host."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from orchestr.transport.base import Connection
from orchestr.transport.command import Command

# Each line is key=value. Listening ports come raw from /proc/net/tcp{,6} (hex, state 0A) and
# from docker's published ports, and are decoded here: mawk, Debian's awk, has no strtonum.
FACTS_SCRIPT = r"""
( . /etc/os-release 2>/dev/null; echo "os=${PRETTY_NAME:-unknown}"; echo "os_id=${ID:-}"; echo "os_version=${VERSION_ID:-}" )
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "hostname=$(uname -n)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
awk '/^MemTotal:/ { print "memory_kb=" $2 } /^MemAvailable:/ { print "memory_available_kb=" $2 }' /proc/meminfo
echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo "containers=$(docker ps -q 2>/dev/null | wc -l)"
echo "tcp_listen=$(awk '$4 == "0A" { split($2, a, ":"); printf "%s ", a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)"
echo "docker_ports=$(docker ps --format '{{.Ports}}' 2>/dev/null | tr '\n' ' ')"
"""


@dataclass(frozen=True)
class Facts:
    os: str
    os_id: str
    os_version: str
    kernel: str
    arch: str
    hostname: str
    cpus: int
    memory_mb: int
    memory_available_mb: int
    docker_version: str  # "" when docker does not answer
    containers_running: int
    ports_in_use: tuple[int, ...]  # TCP ports listening or published by docker, sorted

    def as_dict(self) -> dict:
        return asdict(self)


def parse_facts(text: str) -> Facts:
    """Facts from FACTS_SCRIPT's output (pure)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    ports = {int(h, 16) for h in values.get("tcp_listen", "").split() if _is_hex(h)}
    ports |= _published_ports(values.get("docker_ports", ""))
    return Facts(
        os=values.get("os", "unknown"),
        os_id=values.get("os_id", ""),
        os_version=values.get("os_version", ""),
        kernel=values.get("kernel", ""),
        arch=values.get("arch", ""),
        hostname=values.get("hostname", ""),
        cpus=_int(values.get("cpus")),
        memory_mb=_int(values.get("memory_kb")) // 1024,
        memory_available_mb=_int(values.get("memory_available_kb")) // 1024,
        docker_version=values.get("docker", ""),
        containers_running=_int(values.get("containers")),
        ports_in_use=tuple(sorted(ports)),
    )


def _published_ports(text: str) -> set[int]:
    """Host TCP ports from `docker ps` Ports text: "0.0.0.0:8080->80/tcp, :::8080->80/tcp"."""
    found = set()
    for mapping in text.replace(",", " ").split():
        if "->" in mapping and mapping.endswith("/tcp"):
            host_side = mapping.split("->")[0]
            port = host_side.rsplit(":", 1)[-1]
            if "-" in port:  # a published range "8000-8002"
                low, _, high = port.partition("-")
                if low.isdigit() and high.isdigit():
                    found.update(range(int(low), int(high) + 1))
            elif port.isdigit():
                found.add(int(port))
    return found


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


async def gather_facts(conn: Connection, timeout: float = 30.0) -> Facts:
    result = await conn.run(Command.shell(FACTS_SCRIPT), timeout=timeout)
    return parse_facts(result.stdout)
