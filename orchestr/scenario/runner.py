"""A scenario's actions, Molecule's way: create the lab, converge, converge again (nothing may
change), verify, destroy; each with a header and its duration, the lab removed even when a step
failed (unless kept).

A run keeps its files in $ORCHESTR_STATE_DIR/scenarios/LAB/: state.json (what was done, the DNS
server's port), its own store and zone file, the DNS server's log and pid. The steps can run in
one process (`orchestr scenario test`) or one per command (`create`, `converge`, `verify`,
`destroy`), which is why the DNS server outlives the command that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestr.errors import (
    EXIT_ERROR,
    EXIT_HOSTS_FAILED,
    EXIT_INTERRUPTED,
    EnvironmentProblem,
    OrchestrError,
    ParseError,
)
from orchestr.scenario.model import FILE_NAME, Scenario, parse_scenario

Say = Callable[[str], None]
DEMO_IMAGES = (("1", "orchestr-demo:1"), ("2", "orchestr-demo:2"))
# No single step of a scenario may take longer (a hung playbook must not hang CI).
STEP_TIMEOUT = 900.0
DNS_START_TIMEOUT = 15.0
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_STATS = re.compile(r"(\w+)=(\d+)")


# ---------------------------------------------------------------- finding scenarios


def find_project(start: str | None = None) -> Path:
    """The project folder: the nearest of START (default: the working directory) and its
    parents holding a molecule/ folder, as Molecule runs from the project's root."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "molecule").is_dir():
            return folder
    raise EnvironmentProblem(
        f"no molecule/ folder in {here} or above it",
        hint="run from the project (each scenario is molecule/NAME/molecule.yml)",
    )


def scenario_names(project: Path) -> list[str]:
    """Scenarios are the folders under molecule/ that hold a molecule.yml."""
    folder = project / "molecule"
    return sorted(p.parent.name for p in folder.glob(f"*/{FILE_NAME}"))


def load_scenario(project: Path, name: str) -> Scenario:
    path = project / "molecule" / name / FILE_NAME
    if not path.is_file():
        known = ", ".join(scenario_names(project)) or "none"
        raise ParseError(f"no scenario {name!r}: {path} not found", hint=f"scenarios: {known}")
    relative = os.path.relpath(path, project)
    scenario = parse_scenario(
        path.read_text(encoding="utf-8"),
        relative,
        lambda candidate: (project / candidate).is_file(),
    )
    return scenario


# ---------------------------------------------------------------- a run's files and state


def state_root() -> Path:
    from orchestr.lab.lab import state_root as lab_state_root

    return lab_state_root() / "scenarios"


@dataclass(frozen=True)
class RunFiles:
    root: Path

    @classmethod
    def of(cls, lab: str) -> RunFiles:
        return cls(state_root() / lab)

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def store(self) -> Path:
        return self.root / "orchestr.db"

    @property
    def zone(self) -> Path:
        return self.root / "zone.db"

    @property
    def dns_log(self) -> Path:
        return self.root / "dns.log"

    @property
    def dns_pid(self) -> Path:
        return self.root / "dns.pid"


@dataclass
class RunState:
    """What has been done to a scenario's lab, kept between commands."""

    scenario: str
    lab: str
    created: bool = False
    prepared: bool = False
    converged: bool = False
    dns_port: int = 0
    inventory: str = ""
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def lb_address(self) -> str:
        return self.addresses.get("lb1", "")

    @classmethod
    def read(cls, files: RunFiles, scenario: str, lab: str) -> RunState:
        try:
            data = json.loads(files.state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(scenario, lab)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "scenario": scenario, "lab": lab})

    def write(self, files: RunFiles) -> None:
        files.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = files.state.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, files.state)


# ---------------------------------------------------------------- processes the run leaves


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _mentions(pid: int, text: str) -> bool:
    """Does process PID's command line mention TEXT? (A pid file may outlive its process and
    the pid be reused: only a process naming the run's folder is ours to stop.)"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return text in handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False


def stop_process(pid: int, timeout: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after TIMEOUT; True when it was running."""
    if not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return True


def stop_run_processes(files: RunFiles, say: Say) -> None:
    """Stop every process a pid file in the run's folder names (the DNS server, and anything a
    playbook started in the background and recorded there, e.g. a load client)."""
    if not files.root.is_dir():
        return
    for pid_file in sorted(files.root.glob("*.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().split()[0])
            if _mentions(pid, str(files.root)) and stop_process(pid):
                say(f"stopped {pid_file.stem} (pid {pid})")


# ---------------------------------------------------------------- steps


@dataclass
class StepResult:
    action: str
    status: str  # passed | failed | skipped
    seconds: float
    code: int = 0
    detail: str = ""


class StepFailed(Exception):
    def __init__(self, message: str, code: int = EXIT_HOSTS_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


class StepSkipped(Exception):
    pass


def orchestr_command() -> list[str]:
    """How to run this very orchestr: the console script beside the interpreter, else the
    module through the interpreter itself."""
    beside = Path(sys.executable).parent / "orchestr"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("orchestr")
    if found:
        return [found]
    return [sys.executable, "-c", "from orchestr.cli import entry; entry()"]


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _note(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class ScenarioRun:
    """One scenario on one lab: each action a method, run in the order asked."""

    def __init__(self, scenario: Scenario, lab: str, project: Path,
                 echo: Say = _echo, note: Say = _note):  # fmt: skip
        self.scenario = scenario
        self.lab = lab
        self.project = project
        self.files = RunFiles.of(lab)
        self.echo = echo
        self.note = note
        self.state = RunState.read(self.files, scenario.name, lab)
        self._dns: subprocess.Popen | None = None

    # ------------------------------------------------------------ what playbooks are given

    def env(self) -> dict[str, str]:
        """The environment every command of the run sees: orchestr's variables pointing at this
        run's lab, store, zone file and inventory, plus Molecule's names for the same."""
        from orchestr.lab.lab import LabPaths
        from orchestr.lab.lab import state_root as lab_state_root

        inventory = self.state.inventory or str(LabPaths.of(self.lab).inventory)
        command = orchestr_command()
        bin_dir = os.path.dirname(command[0])
        path = os.environ.get("PATH", "")
        env = {
            **os.environ,
            **self.scenario.env,
            "ORCHESTR_LAB": self.lab,
            "ORCHESTR_STORE": str(self.files.store),
            "ORCHESTR_ZONE_FILE": str(self.files.zone),
            "ORCHESTR_INVENTORY": inventory,
            "ORCHESTR_SCENARIO_DNS_PORT": str(self.state.dns_port or ""),
            "ORCHESTR_SCENARIO_LB_ADDRESS": self.state.lb_address,
            "MOLECULE_SCENARIO_NAME": self.scenario.name,
            "MOLECULE_SCENARIO_DIRECTORY": str(self.project / self.scenario.directory),
            "MOLECULE_PROJECT_DIRECTORY": str(self.project),
            "MOLECULE_EPHEMERAL_DIRECTORY": str(self.files.root),
            "MOLECULE_INVENTORY_FILE": inventory,
        }
        if len(command) == 1:
            # The runbooks in playbooks/ run `$ORCHESTR_BIN`: this orchestr, not another one.
            env["ORCHESTR_BIN"] = command[0]
        if bin_dir and bin_dir not in path.split(os.pathsep):
            env["PATH"] = os.pathsep.join(p for p in (bin_dir, path) if p)
        # The lab's keys and inventory are found under it: the DNS server, the playbooks and
        # whatever they run must look in the same place as this process.
        env["ORCHESTR_STATE_DIR"] = str(lab_state_root())
        return env

    def extra_vars(self) -> dict[str, Any]:
        return {
            "scenario_name": self.scenario.name,
            "lab_name": self.lab,
            "dns_port": self.state.dns_port,
            "lb_address": self.state.lb_address,
            "project_dir": str(self.project),
            "scenario_dir": str(self.project / self.scenario.directory),
            "run_dir": str(self.files.root),
        }

    def exports(self) -> list[tuple[str, str]]:
        """(name, value) of the variables `orchestr scenario env` prints for a shell."""
        env = self.env()
        names = ["ORCHESTR_STATE_DIR", "ORCHESTR_LAB", "ORCHESTR_STORE", "ORCHESTR_ZONE_FILE",
                 "ORCHESTR_INVENTORY", "ORCHESTR_SCENARIO_DNS_PORT",
                 "ORCHESTR_SCENARIO_LB_ADDRESS", *sorted(self.scenario.env)]  # fmt: skip
        return [(name, env[name]) for name in names]

    # ------------------------------------------------------------ sequences

    def run(self, actions: Iterable[str], *, destroy_on_failure: bool = False,
            keep: bool = False) -> list[StepResult]:  # fmt: skip
        """Run ACTIONS in order, stopping at the first failure. With destroy_on_failure, a
        failure (or ^C) still runs the sequence's last destroy; with keep, no destroy runs
        after the lab was created."""
        actions = list(actions)
        results: list[StepResult] = []
        started_lab = False
        failed_at: int | None = None
        interrupted = False
        index = 0
        while index < len(actions):
            action = actions[index]
            index += 1
            if action == "destroy" and keep and started_lab:
                results.append(StepResult(action, "skipped", 0.0, detail="kept (--keep)"))
                self.echo(f"--> Action: {action}: skipped, the lab is kept (--keep)")
                continue
            try:
                result = self.step(action)
            except KeyboardInterrupt:
                self.echo(f"--> Action: {action} interrupted")
                result = StepResult(action, "failed", 0.0, EXIT_INTERRUPTED, "interrupted")
                interrupted = True
            results.append(result)
            if action != "destroy" and result.status != "skipped":
                started_lab = True
            if result.status == "failed":
                failed_at = index
                break
        if failed_at is not None and destroy_on_failure and not keep:
            rest = actions[failed_at:]
            if "destroy" in rest:
                with contextlib.suppress(KeyboardInterrupt):
                    results.append(self.step("destroy"))
        if interrupted:
            raise KeyboardInterrupt
        return results

    def step(self, action: str) -> StepResult:
        self.echo(f"--> Scenario: {self.scenario.name}")
        self.echo(f"--> Action: {action}")
        started = time.monotonic()
        try:
            getattr(self, f"do_{action}")()
        except StepSkipped as skipped:
            seconds = time.monotonic() - started
            self.echo(f"Skipping, {skipped}")
            return StepResult(action, "skipped", seconds, detail=str(skipped))
        except StepFailed as failure:
            seconds = time.monotonic() - started
            self.echo(f"--> Action: {action} FAILED after {seconds:.1f} s: {failure.message}")
            return StepResult(action, "failed", seconds, failure.code, failure.message)
        except OrchestrError as error:
            seconds = time.monotonic() - started
            message = " / ".join(error.lines())
            self.echo(f"--> Action: {action} FAILED after {seconds:.1f} s: {message}")
            return StepResult(action, "failed", seconds, error.exit_code or EXIT_ERROR, message)
        seconds = time.monotonic() - started
        self.echo(f"--> Action: {action} passed in {seconds:.1f} s")
        return StepResult(action, "passed", seconds)

    # ------------------------------------------------------------ the actions

    def do_destroy(self) -> None:
        from orchestr.lab import lab as lab_ops

        stop_run_processes(self.files, self.note)
        if self._dns is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._dns.wait(5)
            self._dns = None
        removed = asyncio.run(lab_ops.down(self.lab, self.note))
        shutil.rmtree(self.files.root, ignore_errors=True)
        self.state = RunState(self.scenario.name, self.lab)
        self.echo(f"lab {self.lab!r}: {removed} hosts removed")

    def do_syntax(self) -> None:
        self._apply(list(self.scenario.playbooks.values()), "--syntax-check", what="syntax check")

    def do_create(self) -> None:
        if self.state.created and self._lab_intact():
            raise StepSkipped("instances already created.")
        from orchestr.lab import lab as lab_ops
        from orchestr.lab.images import ensure_demo_image

        scenario = self.scenario
        hosts = asyncio.run(lab_ops.up(self.lab, scenario.nodes, scenario.lb, self.note))
        self.state.addresses = {h.name: h.address for h in hosts}
        self.state.inventory = str(lab_ops.LabPaths.of(self.lab).inventory)
        for version, image in DEMO_IMAGES:
            asyncio.run(ensure_demo_image(version, image))
            loaded = asyncio.run(lab_ops.load_image(self.lab, image, []))
            self.note(f"{image} loaded on {', '.join(loaded)}")
        for host in hosts:
            zone = f"  zone={host.zone}" if host.zone else ""
            self.echo(f"{host.name:<8} {host.address:<14} {host.role}{zone}")
        self.files.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state.write(self.files)
        self._start_dns()
        self.state.created = True
        self.state.write(self.files)
        self.echo(f"inventory: {self.state.inventory}")
        self.echo(f"dns: orchestr dns serve on 127.0.0.1:{self.state.dns_port}")

    def do_prepare(self) -> None:
        self._playbook_step("prepare", once=True)

    def do_converge(self) -> None:
        self._require_created()
        self._apply([self._playbook("converge")], what="converge")
        self.state.converged = True
        self.state.write(self.files)

    def do_idempotence(self) -> None:
        self._require_created()
        if not self.state.converged:
            raise StepFailed("the scenario has not converged yet: run converge first", EXIT_ERROR)
        done = self._run_orchestr(
            ["apply", self._playbook("converge"), "-e", json.dumps(self.extra_vars()), "--json"],
            capture=True,
        )
        report = idempotence_report(done.stdout)
        for line in report.lines:
            self.echo(line)
        if done.returncode != 0:
            raise StepFailed(f"the second converge failed (exit {done.returncode})",
                             done.returncode)  # fmt: skip
        if report.changed_hosts:
            raise StepFailed(
                "idempotence test failed: the second converge changed "
                + ", ".join(f"{h} (changed={n})" for h, n in report.changed_hosts.items())
            )
        self.echo("Idempotence completed successfully.")

    def do_side_effect(self) -> None:
        self._playbook_step("side_effect")

    def do_verify(self) -> None:
        self._require_created()
        self._apply([self._playbook("verify")], what="verify")
        self.echo("Verifier completed successfully.")

    def do_cleanup(self) -> None:
        self._playbook_step("cleanup")

    # ------------------------------------------------------------ helpers

    def _playbook(self, key: str) -> str:
        path = self.scenario.playbooks.get(key)
        if path is None:
            raise StepFailed(f"the scenario has no {key} playbook "
                             f"({self.scenario.directory}/{key}.yml)", EXIT_ERROR)  # fmt: skip
        return path

    def _playbook_step(self, key: str, once: bool = False) -> None:
        if self.scenario.playbooks.get(key) is None:
            raise StepSkipped(f"{key} playbook not configured.")
        if once and self.state.prepared:
            raise StepSkipped("instances already prepared.")
        self._require_created()
        self._apply([self._playbook(key)], what=key)
        if once:
            self.state.prepared = True
            self.state.write(self.files)

    def _require_created(self) -> None:
        if not self.state.created:
            raise StepFailed(
                f"lab {self.lab!r} was not created for scenario {self.scenario.name!r}: "
                f"run `orchestr scenario create {self.scenario.name}` first",
                EXIT_ERROR,
            )

    def _lab_intact(self) -> bool:
        """Every host of the lab running and the DNS server alive (else create again: `lab up`
        restarts what is down)."""
        from orchestr.lab import lab as lab_ops

        observed = asyncio.run(lab_ops.observe(self.lab))
        running = {o.host.name for o in observed if o.state == "running"}
        return running == set(self.scenario.hosts) and self._dns_alive()

    def _dns_alive(self) -> bool:
        try:
            pid = int(self.files.dns_pid.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        return _alive(pid) and _mentions(pid, str(self.files.root))

    def _start_dns(self) -> None:
        """`orchestr dns serve` on a free port of 127.0.0.1, detached: it outlives this command
        (`orchestr scenario create` returns, `verify` later digs it) until destroy stops it."""
        if self._dns_alive():
            return
        stop_run_processes(self.files, self.note)
        if not self.files.zone.exists():
            done = self._run_orchestr(["dns", "render", "--output", str(self.files.zone)],
                                      capture=True)  # fmt: skip
            if done.returncode != 0:
                raise StepFailed(f"orchestr dns render failed: {done.stderr.strip()}",
                                 done.returncode)  # fmt: skip
        log = open(self.files.dns_log, "w", encoding="utf-8")  # noqa: SIM115 - the child owns it
        with log:
            self._dns = subprocess.Popen(
                [*orchestr_command(), "dns", "serve", "--zone-file", str(self.files.zone),
                 "--listen", "127.0.0.1:0"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env(), cwd=self.project, start_new_session=True,
            )  # fmt: skip
        self.files.dns_pid.write_text(f"{self._dns.pid}\n")
        deadline = time.monotonic() + DNS_START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.files.dns_log.read_text(encoding="utf-8", errors="replace")
            found = _LISTENING.search(text)
            if found:
                self.state.dns_port = int(found.group(2))
                return
            if self._dns.poll() is not None:
                break
            time.sleep(0.05)
        text = self.files.dns_log.read_text(encoding="utf-8", errors="replace").strip()
        raise StepFailed(f"orchestr dns serve did not start: {text[-500:] or 'no output'}",
                         EXIT_ERROR)  # fmt: skip

    def _apply(self, playbooks: list[str], *options: str, what: str) -> None:
        argv = ["apply", *playbooks, *options]
        if "--syntax-check" not in options:
            argv += ["-e", json.dumps(self.extra_vars())]
        done = self._run_orchestr(argv)
        if done.returncode != 0:
            raise StepFailed(f"{what} failed (orchestr apply exit {done.returncode})",
                             done.returncode)  # fmt: skip

    def _run_orchestr(self, argv: list[str], capture: bool = False,
                      ) -> subprocess.CompletedProcess:  # fmt: skip
        """orchestr ARGV in the project folder with the run's environment; its output goes
        straight to ours unless captured."""
        command = [*orchestr_command(), *argv]
        self.note("$ orchestr " + " ".join(_shorten(a) for a in argv))
        sys.stdout.flush()
        stream = None if capture or _has_fd(sys.stdout) else subprocess.PIPE
        try:
            done = subprocess.run(
                command, cwd=self.project, env=self.env(), text=True, timeout=STEP_TIMEOUT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else stream,
                stderr=subprocess.PIPE if capture else None,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise StepFailed(f"orchestr {argv[0]} did not finish within {STEP_TIMEOUT:g} s",
                             EXIT_ERROR) from None  # fmt: skip
        if stream is not None and done.stdout:
            self.echo(done.stdout.rstrip("\n"))
        if capture and done.stderr:
            self.note(done.stderr.rstrip("\n"))
        return done


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _shorten(word: str) -> str:
    """An argument as the command's echo shows it: quoted when needed, long ones cut."""
    import shlex

    return shlex.quote(word if len(word) < 120 else word[:117] + "...")


# ---------------------------------------------------------------- idempotence


@dataclass
class IdempotenceReport:
    changed_hosts: dict[str, int]  # host -> changed count, only hosts with changes
    lines: list[str]  # what to print: changed tasks, failures, the recap


def idempotence_report(events_text: str) -> IdempotenceReport:
    """Read `orchestr apply --json` events (pure): per host the recap's changed count, and the
    tasks that changed something, as Molecule names them when idempotence fails."""
    task = ""
    changed_tasks: list[str] = []
    failures: list[str] = []
    recap: dict[str, dict[str, int]] = {}
    for line in events_text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "task_start":
            task = str(event.get("name") or "")
        elif kind == "host_result":
            host = event.get("host")
            status = event.get("status")
            if status == "changed":
                changed_tasks.append(f"* [{host}] => {task}")
            elif status in ("failed", "unreachable"):
                result = event.get("result") or event.get("registered") or {}
                message = result.get("msg", "") if isinstance(result, dict) else ""
                failures.append(f"{status}: [{host}] {task}: {message}".rstrip(": "))
        elif kind == "warning":
            failures.append(f"[WARNING]: {event.get('message', '')}")
        elif kind == "recap":
            recap = {host: _counters(stats) for host, stats in (event.get("stats") or {}).items()}
    lines = list(failures)
    changed = {host: c.get("changed", 0) for host, c in recap.items() if c.get("changed", 0)}
    if changed or changed_tasks:
        lines.append("Idempotence test failed because of the following tasks:")
        lines.extend(changed_tasks or [f"* [{h}] (no task named)" for h in changed])
    lines.append("PLAY RECAP (second converge)")
    for host, counters in recap.items():
        lines.append(f"{host:<26} : " + " ".join(f"{k}={v}" for k, v in counters.items()))
    if not recap:
        lines.append("(no recap: the run printed no recap event)")
    # A changed task without a recap count still fails the test.
    for entry in changed_tasks:
        host = entry.split("[", 1)[1].split("]", 1)[0]
        changed.setdefault(host, 1)
    return IdempotenceReport(changed, lines)


def _counters(stats: Any) -> dict[str, int]:
    """A host's recap counters, given as a mapping or as the text `Stats(ok=3, changed=0, ...)`
    (what `orchestr apply --json` prints for its Stats values)."""
    if isinstance(stats, dict):
        return {str(k): int(v) for k, v in stats.items() if isinstance(v, int)}
    return {key: int(value) for key, value in _STATS.findall(str(stats))}


# ---------------------------------------------------------------- summaries


def summary_line(scenario: str, results: list[StepResult]) -> str:
    total = sum(r.seconds for r in results)
    steps = ", ".join(
        f"{r.action} {r.seconds:.1f} s" + ("" if r.status == "passed" else f" {r.status}")
        for r in results
    )
    failed = next((r for r in results if r.status == "failed"), None)
    if failed is None:
        return f"--> Scenario {scenario}: passed in {total:.1f} s ({steps})"
    return (f"--> Scenario {scenario}: FAILED at {failed.action} (exit {failed.code}) "
            f"after {total:.1f} s ({steps})")  # fmt: skip


def exit_code(results: list[StepResult]) -> int:
    failed = next((r for r in results if r.status == "failed"), None)
    return 0 if failed is None else (failed.code or EXIT_ERROR)
