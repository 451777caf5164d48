"""Facts: FACTS_SCRIPT's output parsed (pure), and the script run for real on this machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

from orchestr.transport.facts import FACTS_SCRIPT, Facts, gather_facts, parse_facts
from orchestr.transport.local import LocalConnection

# Captured from a Debian 12 lab host running two containers, one publishing a range.
SAMPLE = """\
os=Debian GNU/Linux 12 (bookworm)
os_id=debian
os_version=12
kernel=6.1.0-18-amd64
arch=x86_64
hostname=node1
cpus=4
memory_kb=8039936
memory_available_kb=6291456
docker=24.0.7
containers=2
tcp_listen=0016 0CEA 1F90 0016 0277 \n\
docker_ports=0.0.0.0:8080->80/tcp, :::8080->80/tcp 0.0.0.0:8000-8002->8000-8002/tcp, :::8000-8002->8000-8002/tcp \n\
"""


def test_parse_a_captured_sample():
    assert parse_facts(SAMPLE) == Facts(
        os="Debian GNU/Linux 12 (bookworm)",
        os_id="debian",
        os_version="12",
        kernel="6.1.0-18-amd64",
        arch="x86_64",
        hostname="node1",
        cpus=4,
        memory_mb=7851,
        memory_available_mb=6144,
        docker_version="24.0.7",
        containers_running=2,
        # 0x16=22, 0xCEA=3306, 0x1F90=8080, 0x277=631; published 8080 and 8000-8002
        ports_in_use=(22, 631, 3306, 8000, 8001, 8002, 8080),
    )


def test_host_without_docker():
    text = SAMPLE.replace("docker=24.0.7", "docker=").replace("containers=2", "containers=0")
    text = text.replace(text.splitlines()[-1], "docker_ports=")
    facts = parse_facts(text)
    assert facts.docker_version == ""
    assert facts.containers_running == 0
    assert facts.ports_in_use == (22, 631, 3306, 8080)


def test_docker_port_shapes():
    def ports(docker_ports: str) -> tuple[int, ...]:
        return parse_facts(f"tcp_listen=\ndocker_ports={docker_ports}\n").ports_in_use

    assert ports("0.0.0.0:8080->80/tcp, :::8080->80/tcp") == (8080,)
    assert ports("0.0.0.0:8000-8002->8000-8002/tcp") == (8000, 8001, 8002)
    assert ports("127.0.0.1:5432->5432/tcp") == (5432,)
    assert ports("[::]:9000->9000/tcp") == (9000,)
    assert ports("80/tcp, 443/tcp") == ()  # exposed, not published
    assert ports("0.0.0.0:32768->80/tcp 0.0.0.0:32769->443/tcp") == (32768, 32769)
    assert ports("") == ()
    assert ports("0.0.0.0:x-y->1/tcp garbage -> :->/tcp") == ()


def test_missing_or_malformed_lines_give_defaults():
    facts = parse_facts("noise without equals\ncpus=many\nmemory_kb=\ntcp_listen=zz 0050 -1\n")
    assert facts.os == "unknown"
    assert facts.hostname == ""
    assert facts.cpus == 0
    assert facts.memory_mb == 0
    assert facts.ports_in_use == (80,)
    assert parse_facts("") == parse_facts("\n\n")


def test_values_may_contain_equals_signs():
    facts = parse_facts("os=Weird=OS 1\nhostname= h=1 \n")
    assert facts.os == "Weird=OS 1"
    assert facts.hostname == "h=1"


def _meminfo_kb(key: str) -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(key)


async def test_the_script_on_this_machine():
    # A port of our own, listening while the script runs: it must be reported.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        result = await LocalConnection("local").run(FACTS_SCRIPT, timeout=30)
        facts = await gather_facts(LocalConnection("local"))
    finally:
        listener.close()
    assert result.rc == 0, result.stderr
    first = parse_facts(result.stdout)  # two runs agree on everything that cannot change
    for field in ("os", "os_id", "os_version", "kernel", "arch", "hostname", "cpus", "memory_mb"):
        assert getattr(first, field) == getattr(facts, field)
    assert port in first.ports_in_use
    uname = os.uname()
    assert facts.hostname == uname.nodename
    assert facts.kernel == uname.release
    assert facts.arch == uname.machine
    assert facts.cpus == os.sysconf("SC_NPROCESSORS_ONLN")
    assert facts.memory_mb == _meminfo_kb("MemTotal") // 1024
    assert 0 < facts.memory_available_mb <= facts.memory_mb
    assert port in facts.ports_in_use
    assert list(facts.ports_in_use) == sorted(set(facts.ports_in_use))
    with open("/etc/os-release") as handle:
        release = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
    assert facts.os_id == release.get("ID", "").strip('"')
    assert facts.os == release.get("PRETTY_NAME", "unknown").strip('"')
    if shutil.which("docker"):
        server = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert facts.docker_version == (server.stdout.strip() if server.returncode == 0 else "")
    else:
        assert facts.docker_version == ""
        assert facts.containers_running == 0
