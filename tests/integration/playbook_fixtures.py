"""Running one corpus playbook with ansible-playbook or orchestr on the lab, and reading back
what it left: the PLAY RECAP counts per host and a listing of its scratch directory per host.

Each playbook gets its own scratch directory per tool on every host, /tmp/corpus/<name>/<tool>,
passed as the extra var `workdir` (and `tool`, and `localdir` for the controller side), so both
tools run against the same hosts without seeing each other's files.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
ORCHESTR = str(BIN / "orchestr")
ANSIBLE_PLAYBOOK = str(BIN / "ansible-playbook")
CORPUS = Path(__file__).parent / "playbooks"
REMOTE_ROOT = "/tmp/corpus"
TOOLS = ("ansible", "orchestr")
COUNTS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
RUN_TIMEOUT = 240

_RECAP_LINE = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$")


@dataclass(frozen=True)
class Case:
    """One corpus playbook and what its header comments ask for."""

    name: str
    path: Path
    args: tuple[str, ...] = ()
    idempotent: bool = False

    @classmethod
    def load(cls, path: Path) -> Case:
        args: list[str] = []
        idempotent = False
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped == "# idempotent":
                idempotent = True
            elif stripped.startswith("# args:"):
                args.extend(shlex.split(stripped[len("# args:") :]))
        return cls(path.stem, path, tuple(args), idempotent)


def corpus_cases() -> list[Case]:
    return [Case.load(path) for path in sorted(CORPUS.glob("*.yml"))]


@dataclass
class Run:
    """One execution of a playbook by one tool."""

    returncode: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]]

    def describe(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-6000:]}\n{self.stderr[-3000:]}"


@dataclass
class ToolResult:
    """Everything a tool did with a playbook: one or two runs, then the state it left."""

    tool: str
    runs: list[Run] = field(default_factory=list)
    state: dict[str, list[str]] = field(default_factory=dict)


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """{host: {count: n}} from the last PLAY RECAP block of ansible's default output."""
    start = stdout.rfind("PLAY RECAP")
    if start < 0:
        return {}
    recap: dict[str, dict[str, int]] = {}
    for line in stdout[start:].splitlines()[1:]:
        match = _RECAP_LINE.match(line.strip())
        if not match:
            if recap:
                break
            continue
        counts = dict(pair.split("=") for pair in match.group(2).split())
        recap[match.group(1)] = {key: int(counts.get(key, 0)) for key in COUNTS}
    return recap


class LabShell:
    """Plain OpenSSH to the lab hosts, as root, with the lab's key and known_hosts."""

    def __init__(self, lab):
        self.lab = lab

    def run(self, host: str, script: str) -> str:
        done = subprocess.run(
            ["ssh", "-i", self.lab.private_key, "-o", f"UserKnownHostsFile={self.lab.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-o", "ConnectTimeout=10", f"root@{self.lab.addresses[host]}", script],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"ssh {host} {script!r} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def each(self, script: str) -> dict[str, str]:
        return {host: self.run(host, script) for host in sorted(self.lab.addresses)}


def workdir(case: Case, tool: str) -> str:
    return f"{REMOTE_ROOT}/{case.name}/{tool}"


# Lists a scratch directory: path, type, mode:owner:group, and for files the sha1 of the content
# with the tool's name replaced (templates and commands may write the workdir path into files).
_LISTING = r"""
cd {dir} 2>/dev/null || {{ echo '<no workdir>'; exit 0; }}
find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
  if [ -L "$p" ]; then echo "$p link $(readlink "$p" | sed 's/{tool}/@TOOL@/g')"
  elif [ -d "$p" ]; then echo "$p dir $(stat -c %a:%U:%G "$p")"
  else echo "$p file $(stat -c %a:%U:%G "$p") $(sed 's/{tool}/@TOOL@/g' "$p" | sha1sum | cut -c1-12)"
  fi
done
"""


def remote_state(shell: LabShell, case: Case, tool: str) -> dict[str, list[str]]:
    script = _LISTING.format(dir=shlex.quote(workdir(case, tool)), tool=tool)
    return {host: out.splitlines() for host, out in shell.each(script).items()}


def local_state(localdir: Path, tool: str) -> list[str]:
    if not localdir.exists():
        return ["<no localdir>"]
    rows = []
    for path in sorted(localdir.rglob("*")):
        relative = path.relative_to(localdir)
        if path.is_symlink():
            rows.append(f"{relative} link {os.readlink(path).replace(tool, '@TOOL@')}")
        elif path.is_dir():
            rows.append(f"{relative} dir {oct(path.stat().st_mode & 0o7777)}")
        else:
            text = path.read_text(errors="replace").replace(tool, "@TOOL@")
            rows.append(f"{relative} file {oct(path.stat().st_mode & 0o7777)} {text!r}")
    return rows


def wipe(shell: LabShell, case: Case, tool: str) -> None:
    directory = shlex.quote(workdir(case, tool))
    shell.each(f"rm -rf {directory} && mkdir -p {directory}")


def command_line(lab, case: Case, tool: str, localdir: Path) -> list[str]:
    extra = ["-e", f"workdir={workdir(case, tool)}", "-e", f"tool={tool}",
             "-e", f"localdir={localdir}"]  # fmt: skip
    program = ANSIBLE_PLAYBOOK if tool == "ansible" else ORCHESTR
    head = [program] if tool == "ansible" else [program, "apply"]
    return [*head, "-i", str(lab.inventory), *extra, *case.args, str(case.path)]


def ansible_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_FORCE_COLOR": "0",
    }


def run_tool(lab, case: Case, tool: str, scratch: Path) -> ToolResult:
    """Wipe the tool's scratch directories, run the playbook (twice if idempotent), list state."""
    shell = LabShell(lab)
    wipe(shell, case, tool)
    localdir = scratch / "local" / case.name / tool
    localdir.mkdir(parents=True, exist_ok=True)
    env = ansible_env(scratch / "home" / case.name) if tool == "ansible" else dict(os.environ)
    env["NO_COLOR"] = "1"
    result = ToolResult(tool)
    for _ in range(2 if case.idempotent else 1):
        done = subprocess.run(
            command_line(lab, case, tool, localdir), capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env=env, cwd=case.path.parent, timeout=RUN_TIMEOUT,
        )  # fmt: skip
        result.runs.append(Run(done.returncode, done.stdout, done.stderr, parse_recap(done.stdout)))
    result.state = remote_state(shell, case, tool)
    result.state["<controller>"] = local_state(localdir, tool)
    return result
