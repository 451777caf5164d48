"""The benchmark's use of `orchestr lab`, always through the CLI (as a user would), on the lab
named `bench` only; plus reading the lab's Ansible-format inventory."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.scenarios import LAB


def orchestr_bin() -> str:
    """The orchestr entry point of the interpreter running the benchmark (the project venv)."""
    beside = Path(sys.executable).with_name("orchestr")
    if beside.exists():
        return str(beside)
    found = shutil.which("orchestr")
    if not found:
        raise SystemExit("orchestr is not installed in this environment (pip install -e .)")
    return found


def _orchestr(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [orchestr_bin(), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        raise SystemExit(
            f"orchestr {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )
    return done


def lab_status(name: str = LAB) -> list[dict] | None:
    """Host rows of `orchestr lab status --json`, or None when no such lab is up."""
    done = _orchestr("lab", "status", "--name", name, "--json", check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return rows or None


def shape_matches(rows: list[dict] | None, nodes: int, lb: bool) -> bool:
    """True when a lab has exactly `nodes` workers (and an lb iff asked) and all are healthy."""
    if not rows:
        return False
    roles = Counter(row.get("role") for row in rows)
    healthy = all(row.get("ssh_ok") and row.get("docker_ok") for row in rows)
    return healthy and roles == Counter({"node": nodes, **({"lb": 1} if lb else {})})


def up_argv(nodes: int, lb: bool, name: str = LAB) -> list[str]:
    return [orchestr_bin(), "lab", "up", "--hosts", str(nodes), *(["--lb"] if lb else []),
            "--name", name]  # fmt: skip


def down_argv(name: str = LAB) -> list[str]:
    return [orchestr_bin(), "lab", "down", "--name", name]


def ensure_lab(nodes: int, lb: bool, say) -> tuple[Path, bool]:
    """The `bench` lab in this shape: reused when it already is, else brought to it with
    `lab up`. Returns (inventory path, whether this call started or reshaped it)."""
    if shape_matches(lab_status(), nodes, lb):
        path = _orchestr("lab", "inventory", "--name", LAB).stdout.strip().splitlines()[-1]
        say(f"reusing lab {LAB!r} ({nodes} nodes{' + lb' if lb else ''})")
        return Path(path), False
    say(f"bringing lab {LAB!r} to {nodes} nodes{' + lb' if lb else ''}")
    done = subprocess.run(up_argv(nodes, lb), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"orchestr lab up failed (exit {done.returncode}):\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1]), True


def lab_down(say, name: str = LAB) -> None:
    if lab_status(name) is None:
        return
    say(f"removing lab {name!r}")
    done = subprocess.run(down_argv(name), capture_output=True, text=True)
    if done.returncode != 0:
        say(f"orchestr lab down failed (exit {done.returncode}): {done.stderr.strip()}")


# ---------------------------------------------------------------- the inventory


@dataclass(frozen=True)
class Target:
    name: str
    address: str


@dataclass(frozen=True)
class LabInventory:
    """What the bare floor and the pyinfra inventory need from the lab's Ansible inventory."""

    targets: tuple[Target, ...]
    user: str
    private_key: str
    known_hosts: str


def _group_hosts(group: dict, wanted: str, inside: bool) -> dict[str, dict]:
    """Hosts of group `wanted` (and its children) found anywhere below `group`."""
    found: dict[str, dict] = {}
    if inside:
        for host, values in (group.get("hosts") or {}).items():
            found[host] = values or {}
    for child_name, child in (group.get("children") or {}).items():
        found.update(_group_hosts(child or {}, wanted, inside or child_name == wanted))
    return found


def parse_inventory(text: str, group: str) -> LabInventory:
    """Read the YAML inventory written by `orchestr lab up` (not a general Ansible parser: it
    knows the lab's layout, all vars under `all`)."""
    document = yaml.safe_load(text) or {}
    top = document.get("all") or {}
    variables = top.get("vars") or {}
    hosts = _group_hosts(top, group, group == "all")
    if not hosts:
        raise ValueError(f"no hosts in group {group!r}")
    common = shlex.split(variables.get("ansible_ssh_common_args", ""))
    known_hosts = ""
    for arg in common:  # "-o Option=value" and "-oOption=value" alike
        option = arg.removeprefix("-o")
        if option.startswith("UserKnownHostsFile="):
            known_hosts = option.split("=", 1)[1]
    if not known_hosts:
        raise ValueError("the inventory names no UserKnownHostsFile: host keys cannot be checked")
    return LabInventory(
        targets=tuple(
            Target(name, str(values.get("ansible_host", name))) for name, values in hosts.items()
        ),
        user=str(variables.get("ansible_user", "root")),
        private_key=str(variables["ansible_ssh_private_key_file"]),
        known_hosts=known_hosts,
    )


def read_inventory(path: Path, group: str) -> LabInventory:
    return parse_inventory(path.read_text(), group)
