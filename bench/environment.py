"""What the numbers were measured on: the machine, the tools and their versions; and the peers'
virtualenv (ansible-core, pyinfra), created on first use by setup_peers.sh."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEERS_VENV = BENCH_DIR / ".venv-peers"
PEERS_BIN = PEERS_VENV / "bin"
RESULTS_DIR = BENCH_DIR / "results"


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory": _memory_total(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_start": load_average(),
    }


def _dist(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def orchestr_versions() -> dict[str, str]:
    commit = _output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "-C", str(REPO), "status", "--porcelain", "--", "orchestr"])
    return {
        "orchestr": _dist("orchestr"),
        "orchestr_commit": commit + ("+dirty" if dirty else ""),
        "asyncssh": _dist("asyncssh"),
        "python": sys.version.split()[0],
        "docker": _output(["docker", "version", "--format", "{{.Server.Version}}"]),
        "openssh": _output(["ssh", "-V"]),
    }


def ensure_peers(say) -> None:
    """Create the peers' venv when it (or one of its tools) is missing."""
    if (PEERS_BIN / "ansible").exists() and (PEERS_BIN / "pyinfra").exists():
        return
    say(f"creating {PEERS_VENV} (ansible-core, pyinfra from PyPI)")
    done = subprocess.run(["bash", str(BENCH_DIR / "setup_peers.sh")], stdout=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit("bench/setup_peers.sh failed")


def peer_versions() -> dict[str, str]:
    script = (
        "from importlib.metadata import version\n"
        "for n in ('ansible-core', 'pyinfra', 'paramiko'):\n"
        "    print(n, version(n))\n"
    )
    text = _output([str(PEERS_BIN / "python"), "-c", script])
    found = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    found["peers_python"] = _output([str(PEERS_BIN / "python"), "--version"]).replace("Python ", "")
    return found
