"""playbook: the same ten-task playbook (bench/playbooks/ten_tasks.yml) on every lab node, from
orchestr, ansible-playbook, pyinfra (the same operations as a deploy file) and a bare asyncssh
script (the floor). Issue 5's targets: orchestr at least 5x faster than ansible-playbook
(`-f N`, pipelining on), faster than pyinfra, within 1.3x of the bare floor.

Two variants, each contender working in a directory of its own (/tmp/bench-pb-<contender>):
  playbook       steady state (the default): the warm-up run creates the state (its `before`
                 hook first wipes the directory with one `orchestr exec`), every measured run
                 then finds it in place and changes nothing (changed=0 per host).
  playbook-cold  every run starts from nothing: a `before` hook wipes the directory with one
                 `orchestr exec` call, outside the timing; every run changes 5 tasks per host.

Every run's output is checked against the expected counts: each host ok=10 with the expected
changed count in the recap (orchestr, ansible), pyinfra's results table (every operation on
every host, the expected changes), the bare script's line per host; plus the debug report.

Contenders (forks = the host count, so all hosts go at once):
  orchestr         orchestr apply ten_tasks.yml -i INVENTORY -f N -e workdir=...
  ansible-playbook ansible-playbook ten_tasks.yml -i INVENTORY -f N -e workdir=...
                   (ANSIBLE_PIPELINING=True; a fresh ControlPath dir per run)
  pyinfra          pyinfra -y --parallel N INVENTORY.py bench/pyinfra/ten_tasks.py --data ...
  bare             bench/bare/ten_tasks.py: one asyncssh connection per host, the ten steps as
                   shell commands one after the other, all hosts at once (the floor)
  bare-linear      the same with --linear: every host finishes a step before any starts the
                   next, as a play's linear strategy does (information only)
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from bench import lab
from bench.environment import BENCH_DIR, PEERS_BIN
from bench.harness import Check, Contender
from bench.scenarios import Context, register
from bench.scenarios.common import FreshControlPath, LabScenario, RunCounter, run_checked

PLAYBOOK = BENCH_DIR / "playbooks" / "ten_tasks.yml"
DEPLOY = BENCH_DIR / "pyinfra" / "ten_tasks.py"
BARE = BENCH_DIR / "bare" / "ten_tasks.py"
WORKDIR_PREFIX = "/tmp/bench-pb-"

TASKS = 10
CHANGING = 5  # tasks that change something on a first run: directory, copy, template, line, touch
# pyinfra's operations that find nothing to do on a later run; its three shell commands and two
# python.call callbacks always count as a change ("Success").
PYINFRA_IDEMPOTENT = 5

# ---------------------------------------------------------------- output checks

# ansible-playbook's PLAY RECAP line, which orchestr apply prints identically.
RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
    r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)\s*$",
    re.MULTILINE,
)
RECAP_FIELDS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
# The debug task's message, as ansible/orchestr print it ("msg": "kernel ..."), pyinfra's
# callback ("[node1] report: kernel ...") and the bare script ("node1 report: kernel ...").
REPORT_TEXT = r"kernel \S+, motd 2 lines, config \d+ bytes"
ANSIBLE_REPORT = re.compile(r'^ok: \[(\S+)\] => \{\n\s+"msg": "' + REPORT_TEXT + '"', re.MULTILINE)
PYINFRA_REPORT = re.compile(r"^\[(\S+)\] report: " + REPORT_TEXT + "$", re.MULTILINE)
BARE_REPORT = re.compile(r"^(\S+) report: " + REPORT_TEXT + "$", re.MULTILINE)
BARE_LINE = re.compile(r"^(\S+) ok=(\d+) changed=(\d+)$", re.MULTILINE)
# pyinfra's "--> Results:" table: a row per operation, then "Grand total".
PYINFRA_ROW = re.compile(r"^ {4}(\S.*?)\s{2,}(\d+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s*$", re.MULTILINE)


def recap(text: str) -> dict[str, dict[str, int]]:
    """Per host, the PLAY RECAP counts (ok, changed, unreachable, failed, ...)."""
    return {
        m.group(1): dict(zip(RECAP_FIELDS, (int(g) for g in m.groups()[1:]), strict=True))
        for m in RECAP.finditer(text)
    }


def recap_problem(text: str, hosts: int, changed: int) -> str | None:
    """Why a recap is not `hosts` hosts each with ok=10, `changed` changed, nothing failed."""
    rows = recap(text)
    if len(rows) != hosts:
        return f"{len(rows)} of {hosts} hosts in the recap"
    wrong = [
        f"{host} ok={row['ok']} changed={row['changed']} failed={row['failed']} "
        f"unreachable={row['unreachable']}"
        for host, row in sorted(rows.items())
        if (row["ok"], row["changed"], row["unreachable"], row["failed"]) != (TASKS, changed, 0, 0)
    ]
    if wrong:
        return f"expected ok={TASKS} changed={changed} on every host: " + "; ".join(wrong[:3])
    return None


def _count(cell: str) -> int:
    return 0 if cell == "-" else int(cell)


@dataclass(frozen=True)
class PyinfraRow:
    operation: str
    hosts: int
    success: int
    error: int
    no_change: int


def pyinfra_results(text: str) -> list[PyinfraRow]:
    """The rows of pyinfra's results table ("Grand total" included), after `--> Results:`."""
    _, found, table = text.partition("--> Results:")
    if not found:
        return []
    return [
        PyinfraRow(m.group(1).strip(), int(m.group(2)), *(_count(m.group(i)) for i in (3, 4, 5)))
        for m in PYINFRA_ROW.finditer(table)
    ]


def pyinfra_problem(text: str, hosts: int, cold: bool) -> str | None:
    """Every operation ran on every host without error; a cold run changed all ten, a steady
    one left the five file operations unchanged ("No Change") and ran the other five."""
    rows = [r for r in pyinfra_results(text) if r.operation != "Grand total"]
    if len(rows) != TASKS:
        return f"{len(rows)} of {TASKS} operations in pyinfra's results"
    bad = [
        r.operation for r in rows if r.hosts != hosts or r.error or r.success + r.no_change != hosts
    ]
    if bad:
        return f"operations not done on all {hosts} hosts: {', '.join(bad)}"
    unchanged = sum(r.no_change for r in rows)
    expected = 0 if cold else PYINFRA_IDEMPOTENT * hosts
    if unchanged != expected:
        return f"{unchanged} unchanged operation runs, expected {expected}"
    return None


def bare_problem(text: str, hosts: int, changed: int) -> str | None:
    rows = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in BARE_LINE.finditer(text)}
    if len(rows) != hosts:
        return f"{len(rows)} of {hosts} hosts did all ten steps"
    wrong = [f"{h} changed={c}" for h, (_, c) in sorted(rows.items()) if c != changed]
    if wrong:
        return f"expected changed={changed} on every host: " + "; ".join(wrong[:3])
    return None


def reports_problem(pattern: re.Pattern, text: str, hosts: int) -> str | None:
    found = {m.group(1) for m in pattern.finditer(text)}
    if len(found) != hosts:
        return f"{len(found)} of {hosts} hosts printed the report"
    return None


def expected_changed(run: int, cold: bool, changing: int = CHANGING) -> int:
    """Changed tasks per host in run number `run` (1-based, warm-up runs included): every run
    of the cold variant changes `changing`; in the steady one only the first (it starts from a
    wiped directory)."""
    return changing if cold or run == 1 else 0


# ---------------------------------------------------------------- the scenario


class _Playbook(LabScenario):
    default_hosts = 20
    needs_peers = True
    group = "nodes"
    cold = False

    def wipe_argv(self, workdir: str) -> list[str]:
        """One orchestr exec removing a contender's directory on every node (untimed)."""
        return self.orchestr_exec_argv("rm", "-rf", "--", workdir)

    def contenders(self, ctx: Context) -> list[Contender]:
        if not self.cold and ctx.warmup < 1:
            raise SystemExit(
                f"{self.name}: needs --warmup 1 or more (the warm-up creates the state)"
            )
        assert self.inventory is not None and self.workdir is not None
        inv, count, forks = self.inventory, self.count, str(self.count)
        ctx.data["variant"] = "cold" if self.cold else "steady"
        ctx.data["playbook"] = str(PLAYBOOK.relative_to(BENCH_DIR.parent))

        def prepared(name: str, check: Check, *extra_env) -> tuple[str, Check, object]:
            """The contender's workdir, its check wrapped with the run's expected counts, and its
            `before` hook (wipes the workdir when the run must start from nothing)."""
            workdir = WORKDIR_PREFIX + name
            counter = RunCounter(ctx.warmup)
            expected: list[int] = []

            def before() -> dict[str, str]:
                counter.started()
                expected[:] = [expected_changed(counter.runs, self.cold)]
                if self.cold or counter.runs == 1:
                    run_checked(self.wipe_argv(workdir), f"wiping {workdir}")
                env: dict[str, str] = {}
                for hook in extra_env:
                    env.update(hook() or {})
                return env

            def checked(done: subprocess.CompletedProcess) -> str | None:
                return check(done, expected[0])  # type: ignore[call-arg]

            return workdir, checked, before

        def ansible_like(report: re.Pattern):
            def check(done: subprocess.CompletedProcess, changed: int) -> str | None:
                return recap_problem(done.stdout, count, changed) or reports_problem(
                    report, done.stdout, count
                )

            return check

        contenders = []

        workdir, check, before = prepared("orchestr", ansible_like(ANSIBLE_REPORT))
        contenders.append(Contender(
            "orchestr",
            [lab.orchestr_bin(), "apply", str(PLAYBOOK), "-i", str(self.inventory_path),
             "-f", forks, "-e", f"workdir={workdir}"],
            check=check, before=before,
        ))  # fmt: skip

        control = FreshControlPath(self.workdir)
        workdir, check, before = prepared(
            "ansible-playbook", ansible_like(ANSIBLE_REPORT), control.before
        )
        contenders.append(Contender(
            "ansible-playbook",
            [str(PEERS_BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(self.inventory_path),
             "-f", forks, "-e", f"workdir={workdir}"],
            env={"ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1",
                 "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp")},
            check=check, before=before, after=control.after,
        ))  # fmt: skip

        def pyinfra_check(done: subprocess.CompletedProcess, changed: int) -> str | None:
            text = f"{done.stdout}\n{done.stderr}"
            return pyinfra_problem(text, count, cold=changed > 0) or reports_problem(
                PYINFRA_REPORT, text, count
            )

        workdir, check, before = prepared("pyinfra", pyinfra_check)
        contenders.append(Contender(
            "pyinfra",
            [str(PEERS_BIN / "pyinfra"), "-y", "--parallel", forks,
             str(self.workdir / "pyinfra_inventory.py"), str(DEPLOY), "--data", f"workdir={workdir}"],
            check=check, before=before,
        ))  # fmt: skip

        def bare_check(done: subprocess.CompletedProcess, changed: int) -> str | None:
            return bare_problem(done.stdout, count, changed) or reports_problem(
                BARE_REPORT, done.stdout, count
            )

        workdir, check, before = prepared("bare", bare_check)
        contenders.append(Contender(
            "bare",
            [sys.executable, str(BARE), "--key", inv.private_key, "--known-hosts",
             inv.known_hosts, "--user", inv.user, "--workdir", workdir,
             *(f"{t.name}={t.address}" for t in inv.targets)],
            check=check, before=before,
        ))  # fmt: skip

        workdir, check, before = prepared("bare-linear", bare_check)
        contenders.append(Contender(
            "bare-linear",
            [sys.executable, str(BARE), "--linear", "--key", inv.private_key, "--known-hosts",
             inv.known_hosts, "--user", inv.user, "--workdir", workdir,
             *(f"{t.name}={t.address}" for t in inv.targets)],
            check=check, before=before,
            note="information only: the floor with a barrier after each step, as a linear play",
        ))  # fmt: skip
        return contenders

    def teardown(self, ctx: Context) -> None:
        if self.inventory is not None and not self.created:
            # a lab kept up: leave no benchmark directories behind
            for name in ("orchestr", "ansible-playbook", "pyinfra", "bare", "bare-linear"):
                subprocess.run(self.wipe_argv(WORKDIR_PREFIX + name), capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
        super().teardown(ctx)


@register
class Playbook(_Playbook):
    name = "playbook"
    summary = "ten-task playbook, steady state: orchestr apply vs ansible-playbook, pyinfra, bare"


@register
class PlaybookCold(_Playbook):
    name = "playbook-cold"
    summary = "ten-task playbook from nothing (workdir wiped before each run, untimed)"
    cold = True
