"""Shared fixtures: ansible-core as the test oracle, run concurrently and cached per session."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "corpus"


def corpus_items() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir())


def corpus_args(name: str) -> list[str]:
    """The -i/--playbook-dir arguments for a corpus entry: an ARGS file, or the entry itself."""
    item = CORPUS / name
    args_file = item / "ARGS"
    if not args_file.is_file():
        return ["-i", str(item)]
    args: list[str] = []
    for line in args_file.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("-") or "," in line:
            args.append(line)
        else:
            args.append(str(item / line))
    return args


def split_args(args: Sequence[str]) -> tuple[list[str], str | None]:
    """(sources, playbook_dir) from -i/--playbook-dir arguments."""
    sources: list[str] = []
    playbook_dir = None
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag == "-i":
            sources.append(value)
        elif flag == "--playbook-dir":
            playbook_dir = value
    return sources, playbook_dir


def normalize(value: Any) -> Any:
    """Sort every list so that only content is compared, never order."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalize(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


class Oracle:
    """Runs ansible-core's CLIs with a clean, private configuration."""

    def __init__(self, home: Path) -> None:
        self.cwd = home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
            "HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_CONFIG": str(home / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_HOST_PATTERN_MISMATCH": "warning",
        }
        (home / "tmp").mkdir(exist_ok=True)
        (home / "ansible.cfg").write_text("[defaults]\n")

        # Fork servers (see oracle_server.py): ansible imported once, a fresh child per call.
        self._servers: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        for _ in range(max(2, os.cpu_count() or 2)):
            self._servers.put(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).parent / "oracle_server.py")],
                    cwd=self.cwd,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                )
            )

    def close(self) -> None:
        while not self._servers.empty():
            server = self._servers.get()
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)

    def run(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run `ansible-inventory ...` or `ansible ...` (first word) and capture its output."""
        server = self._servers.get()
        try:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps({"argv": list(command)}) + "\n")
            server.stdin.flush()
            reply = json.loads(server.stdout.readline())
        finally:
            self._servers.put(server)
        return subprocess.CompletedProcess(
            list(command), reply["rc"], reply["stdout"], reply["stderr"]
        )

    def inventory(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return self.run(["ansible-inventory", *args])

    def list(self, args: Sequence[str]) -> dict[str, Any]:
        done = self.inventory([*args, "--list"])
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def list_hosts(self, sources: Sequence[str], pattern: str, limit: str | None) -> list[str]:
        command = ["ansible", pattern, "--list-hosts"]
        for source in sources:
            command += ["-i", source]
        if limit is not None:
            command += ["-l", limit]
        done = self.run(command)
        if done.returncode != 0:
            return ["<error>"]
        lines = done.stdout.splitlines()
        return [line.strip() for line in lines[1:]] if lines else []

    def many(self, jobs: Sequence[tuple[Any, ...]], call: Any) -> list[Any]:
        """Run oracle calls concurrently, one per fork server."""
        with ThreadPoolExecutor(max_workers=self._servers.qsize() or 2) as pool:
            return list(pool.map(lambda job: call(*job), jobs))


@pytest.fixture(scope="session")
def oracle() -> Iterator[Oracle]:
    with tempfile.TemporaryDirectory(prefix="orchestr-oracle-") as home:
        serving = Oracle(Path(home))
        try:
            yield serving
        finally:
            serving.close()


@pytest.fixture(scope="session")
def corpus_oracle(oracle: Oracle) -> dict[str, dict[str, Any]]:
    """ansible-inventory's --list, --graph --vars and per-host output for every corpus entry."""
    names = corpus_items()

    def one(name: str) -> dict[str, Any]:
        args = corpus_args(name)
        listed = oracle.inventory([*args, "--list"])
        graphed = oracle.inventory([*args, "--graph", "--vars"])
        return {"list": listed, "graph": graphed}

    results = oracle.many([(name,) for name in names], one)
    return dict(zip(names, results, strict=True))
