"""Helpers shared by the transport, exec and image-push integration tests.

Small YAML inventories built in tmp_path that reuse the lab's key and addresses, and runs of
the `orchestr` CLI that return (exit code, stdout, stderr, seconds).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.integration.conftest import ORCHESTR, Lab


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def host_lines(self, host: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"{host} | ")]


def orchestr(*args: str, timeout: float = 120, env: dict | None = None) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [ORCHESTR, *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def write_inventory(
    path: Path,
    lab: Lab,
    hosts: dict[str, dict],
    *,
    known_hosts: str | None = None,
    policy: str = "yes",
    **common: object,
) -> Path:
    """An inventory of `hosts` (name -> vars; a lab host name gets its address unless the vars
    say otherwise), with the lab's key and user, checking host keys against `known_hosts`
    (default: the lab's own file)."""
    entries = {}
    for name, variables in hosts.items():
        entry = dict(variables)
        if name in lab.addresses:
            entry.setdefault("ansible_host", lab.addresses[name])
        entries[name] = entry
    all_vars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": lab.private_key,
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={known_hosts or lab.known_hosts} "
            f"-o StrictHostKeyChecking={policy} -o IdentitiesOnly=yes"
        ),
        **common,
    }
    path.write_text(yaml.safe_dump({"all": {"vars": all_vars, "hosts": entries}}))
    return path
