"""A real lab for the integration tests: brought up once per session, torn down at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ORCHESTR = str(BIN / "orchestr")
# Another name lets two test sessions share this machine (a developer's and a CI check).
LAB_NAME = os.environ.get("ORCHESTR_TEST_LAB", "itest")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Lab:
    name: str
    state_dir: Path
    inventory: Path
    addresses: dict[str, str]

    def orchestr(self, *args: str, check: bool = True, timeout: float = 300):
        done = subprocess.run(
            [ORCHESTR, *args, "--name", self.name] if args[0] == "lab" else [ORCHESTR, *args],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"orchestr {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def ssh(self, host: str, command: str, check: bool = True):
        return self.orchestr("lab", "ssh", host, command, check=check)

    @property
    def private_key(self) -> str:
        return str(self.state_dir / "labs" / self.name / "id_ed25519")

    @property
    def known_hosts(self) -> str:
        return str(self.state_dir / "labs" / self.name / "known_hosts")


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    state_dir = tmp_path_factory.mktemp("orchestr-state")
    previous = os.environ.get("ORCHESTR_STATE_DIR")
    # Set for this process too: the tests also call orchestr's Python API.
    os.environ["ORCHESTR_STATE_DIR"] = str(state_dir)
    subprocess.run([ORCHESTR, "lab", "down", "--name", LAB_NAME], capture_output=True)
    up = subprocess.run(
        [ORCHESTR, "lab", "up", "--hosts", "2", "--name", LAB_NAME],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    inventory = Path(up.stdout.strip().splitlines()[-1])
    status = subprocess.run(
        [ORCHESTR, "lab", "status", "--json", "--name", LAB_NAME], capture_output=True, text=True
    )
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [json.loads(line) for line in status.stdout.splitlines()]
    addresses = {row["name"]: row["address"] for row in rows}
    yield Lab(LAB_NAME, state_dir, inventory, addresses)
    subprocess.run([ORCHESTR, "lab", "down", "--name", LAB_NAME], capture_output=True)
    if previous is None:
        os.environ.pop("ORCHESTR_STATE_DIR", None)
    else:
        os.environ["ORCHESTR_STATE_DIR"] = previous
