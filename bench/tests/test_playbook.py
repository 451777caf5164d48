"""Unit tests of the playbook scenario's pure pieces (no lab): the output checks of each
contender, the expected counts per run, and the bare floor's shell steps (run here with the
local sh, twice, to show they change things once and then nothing).

.venv/bin/pytest bench/tests
"""

from __future__ import annotations

import ast
import asyncio
import os
import stat
import subprocess
import types

import jinja2
import pytest
import yaml

from bench.bare import ten_tasks as bare
from bench.scenarios import playbook

TEMPLATE = playbook.BENCH_DIR / "playbooks" / "templates" / "x.j2"

# ---------------------------------------------------------------- the inputs agree


def test_the_playbook_has_ten_tasks_and_the_deploy_ten_operations():
    (play,) = yaml.safe_load(playbook.PLAYBOOK.read_text())
    assert len(play["tasks"]) == playbook.TASKS
    assert play["hosts"] == "nodes" and play["gather_facts"] is False
    operations = [
        node.value.func
        for node in ast.parse(playbook.DEPLOY.read_text()).body
        if isinstance(node, ast.Expr | ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and isinstance(node.value.func.value, ast.Name)
    ]
    modules = [f.value.id for f in operations if f.value.id in ("files", "server", "python")]
    assert len(modules) == playbook.TASKS
    assert set(modules) == {"files", "server", "python"}


def test_bare_config_is_the_template_rendered_as_ansible_does():
    # Ansible's template module: trim_blocks on, lstrip_blocks off, keep_trailing_newline on
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True)
    text = env.from_string(TEMPLATE.read_text()).render(
        app_name="bench", app_port=8080, peers=["alpha", "beta", "gamma"],
        inventory_hostname="node7",
    )  # fmt: skip
    assert bare.render_config("node7") == text
    assert text.endswith("peer = gamma\n") and "\n\n" not in text


def test_bare_has_ten_steps_of_which_nine_remote():
    steps = bare.steps("/tmp/w/", "node1")
    assert len(steps) == playbook.TASKS
    assert sum(s.command is not None for s in steps) == 9
    assert "/tmp/w//" not in " ".join(s.command or "" for s in steps)
    assert {s.keep for s in steps if s.keep} == {"kernel", "motd_lines", "conf_size"}


# ---------------------------------------------------------------- bare's shell steps, locally


def run_steps(workdir: str) -> int:
    """The file steps of the bare floor (the remote ones that need no docker), run with the
    local sh; returns how many reported a change."""
    changed = 0
    for step in bare.steps(workdir, "node1"):
        if step.command is None or step.command.startswith(("uname", "docker")):
            continue
        done = subprocess.run(["sh", "-c", step.command], input=step.stdin, text=True,
                              capture_output=True, check=True)  # fmt: skip
        changed += bare.step_changed(done.stdout)
    return changed


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_bare_steps_change_five_things_once_then_nothing(tmp_path):
    work = tmp_path / "pb"
    assert run_steps(str(work)) == playbook.CHANGING
    assert (work / "motd").read_text() == bare.MOTD
    assert (work / "app.conf").read_text() == bare.render_config("node1")
    assert (work / "settings.ini").read_text() == "max_conns=100\n"
    assert (work / "stamp").read_text() == ""
    assert mode(work) == 0o755 and mode(work / "motd") == 0o644 and mode(work / "stamp") == 0o644
    assert sorted(p.name for p in work.iterdir()) == ["app.conf", "motd", "settings.ini", "stamp"]
    assert run_steps(str(work)) == 0


def test_bare_steps_repair_what_differs(tmp_path):
    work = tmp_path / "pb"
    run_steps(str(work))
    (work / "motd").write_text("other\n")
    (work / "settings.ini").write_text("a=1\nmax_conns=5\nb=2\n")
    os.chmod(work / "stamp", 0o600)
    os.chmod(work, 0o700)
    assert run_steps(str(work)) == 4
    assert (work / "motd").read_text() == bare.MOTD
    assert (work / "settings.ini").read_text() == "a=1\nmax_conns=100\nb=2\n"
    assert mode(work / "stamp") == 0o644 and mode(work) == 0o755
    assert run_steps(str(work)) == 0


def test_step_changed_wants_the_word_on_its_own_line():
    assert bare.step_changed("changed\n")
    assert bare.step_changed("x\nchanged\nchanged\n")
    assert not bare.step_changed("unchanged\n")
    assert not bare.step_changed("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("node1=198.18.0.2", ("node1", "198.18.0.2")), ("10.0.0.1", ("10.0.0.1", "10.0.0.1"))],
)
def test_parse_target(text, expected):
    assert bare.parse_target(text) == expected


@pytest.mark.parametrize("text", ["=1.2.3.4", "node1="])
def test_parse_target_refuses_half_pairs(text):
    with pytest.raises(ValueError):
        bare.parse_target(text)


# ---------------------------------------------------------------- expected counts per run


def test_steady_expects_changes_on_the_first_run_only():
    assert [playbook.expected_changed(run, cold=False) for run in (1, 2, 3)] == [5, 0, 0]
    assert [playbook.expected_changed(run, cold=True) for run in (1, 2, 3)] == [5, 5, 5]


# ---------------------------------------------------------------- ansible/orchestr recap


def recap_line(host: str, ok: int = 10, changed: int = 0, unreachable: int = 0, failed: int = 0):
    return (f"{host:<27}: ok={ok:<4} changed={changed:<4} unreachable={unreachable:<4} "
            f"failed={failed:<4} skipped=0    rescued=0    ignored=0   ")  # fmt: skip


def play_output(*lines: str, reports=("node1", "node2")) -> str:
    body = "".join(
        f'ok: [{h}] => {{\n    "msg": "kernel 6.1.0-fc, motd 2 lines, config 146 bytes"\n}}\n'
        for h in reports
    )
    return f"TASK [report] ****\n{body}\nPLAY RECAP ****\n" + "\n".join(lines) + "\n"


def test_recap_reads_every_host():
    text = play_output(recap_line("node1", changed=5), recap_line("node10", failed=1, ok=3))
    assert playbook.recap(text) == {
        "node1": {"ok": 10, "changed": 5, "unreachable": 0, "failed": 0, "skipped": 0,
                  "rescued": 0, "ignored": 0},
        "node10": {"ok": 3, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0,
                   "rescued": 0, "ignored": 0},
    }  # fmt: skip


def test_recap_problem():
    good = play_output(recap_line("node1"), recap_line("node2"))
    assert playbook.recap_problem(good, 2, 0) is None
    assert "changed=5" in playbook.recap_problem(good, 2, 5)
    assert "1 of 2 hosts" in playbook.recap_problem(play_output(recap_line("node1")), 2, 0)
    failed = play_output(recap_line("node1"), recap_line("node2", ok=4, failed=1))
    assert "node2 ok=4 changed=0 failed=1" in playbook.recap_problem(failed, 2, 0)
    unreachable = play_output(recap_line("node1"), recap_line("node2", ok=0, unreachable=1))
    assert playbook.recap_problem(unreachable, 2, 0) is not None


def test_ansible_reports_per_host():
    text = play_output(recap_line("node1"), recap_line("node2"))
    assert playbook.reports_problem(playbook.ANSIBLE_REPORT, text, 2) is None
    one = play_output(recap_line("node1"), recap_line("node2"), reports=("node1",))
    assert "1 of 2" in playbook.reports_problem(playbook.ANSIBLE_REPORT, one, 2)
    undefined = text.replace("kernel 6.1.0-fc", "kernel ")
    assert playbook.reports_problem(playbook.ANSIBLE_REPORT, undefined, 2) is not None


# ---------------------------------------------------------------- pyinfra's results table

PYINFRA_STEADY = """\
--> Starting operation: running containers
    [node2]  Success
    [node1]  Success
[node1] report: kernel 6.1.0-fc, motd 2 lines, config 146 bytes
[node2] report: kernel 6.1.0-fc, motd 2 lines, config 146 bytes

--> Results:
    Operation                            Hosts   Success   Error   No Change
    work directory                       2       -         -       2
    message of the day                   2       -         -       2
    application config from a template   2       -         -       2
    a setting in an ini file             2       -         -       2
    kernel release                       2       2         -       -
    lines of the message                 2       2         -       -
    stat the config                      2       2         -       -
    stamp file                           2       -         -       2
    report                               2       2         -       -
    running containers                   2       2         -       -
    Grand total                          20      10        -       10

--> Disconnecting from hosts...
"""
# pyinfra pads the table's cells: the rows end in spaces
PYINFRA_STEADY = "\n".join(
    line + "   " if line.startswith("    ") else line for line in PYINFRA_STEADY.splitlines()
)


def cold(text: str) -> str:
    return text.replace("2       -         -       2  ", "2       2         -       -  ")


def test_pyinfra_results_rows():
    rows = playbook.pyinfra_results(PYINFRA_STEADY)
    assert len(rows) == 11
    assert rows[0] == playbook.PyinfraRow("work directory", 2, 0, 0, 2)
    assert rows[4] == playbook.PyinfraRow("kernel release", 2, 2, 0, 0)
    assert rows[-1] == playbook.PyinfraRow("Grand total", 20, 10, 0, 10)
    assert playbook.pyinfra_results("no table here") == []


def test_pyinfra_problem_steady_and_cold():
    assert playbook.pyinfra_problem(PYINFRA_STEADY, 2, cold=False) is None
    assert "expected 0" in playbook.pyinfra_problem(PYINFRA_STEADY, 2, cold=True)
    assert playbook.pyinfra_problem(cold(PYINFRA_STEADY), 2, cold=True) is None
    assert "expected 10" in playbook.pyinfra_problem(cold(PYINFRA_STEADY), 2, cold=False)
    assert "on all 3 hosts" in playbook.pyinfra_problem(PYINFRA_STEADY, 3, cold=False)


def test_pyinfra_problem_errors_and_missing_operations():
    error = PYINFRA_STEADY.replace(
        "stamp file                           2       -         -       2",
        "stamp file                           2       -         1       1",
    )
    assert "stamp file" in playbook.pyinfra_problem(error, 2, cold=False)
    short = "\n".join(x for x in PYINFRA_STEADY.splitlines() if "report  " not in x)
    assert "9 of 10 operations" in playbook.pyinfra_problem(short, 2, cold=False)
    assert "0 of 10" in playbook.pyinfra_problem("--> Disconnecting", 2, cold=False)


def test_pyinfra_reports():
    assert playbook.reports_problem(playbook.PYINFRA_REPORT, PYINFRA_STEADY, 2) is None
    assert playbook.reports_problem(playbook.PYINFRA_REPORT, PYINFRA_STEADY, 3) is not None


# ---------------------------------------------------------------- bare's lines

BARE_OUT = (
    "node1 ok=10 changed=0\nnode1 report: kernel 6.1.0-fc, motd 2 lines, config 146 bytes\n"
    "node2 ok=10 changed=0\nnode2 report: kernel 6.1.0-fc, motd 2 lines, config 146 bytes\n"
)


def test_bare_problem():
    assert playbook.bare_problem(BARE_OUT, 2, 0) is None
    assert "changed=5" in playbook.bare_problem(BARE_OUT, 2, 5)
    failed = BARE_OUT.replace("node2 ok=10 changed=0", "node2 failed step=3 rc=1: cat: no")
    assert "1 of 2 hosts" in playbook.bare_problem(failed, 2, 0)
    assert playbook.reports_problem(playbook.BARE_REPORT, BARE_OUT, 2) is None
    assert playbook.reports_problem(playbook.BARE_REPORT, failed.split("node2 rep")[0], 2)


# ---------------------------------------------------------------- bare --linear, with a fake ssh


class FakeConnection:
    """Stands for asyncssh: records (host, step) as commands start; `fail_at` fails one step."""

    def __init__(self, name: str, order: list, fail_at: int | None, delay: float):
        self.name, self.order, self.fail_at, self.delay = name, order, fail_at, delay
        self.step = 0

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def run(self, command, input=None, check=False):
        self.step += 1 + (self.step in (8,))  # step 9 (the report) runs locally
        self.order.append((self.name, self.step))
        await asyncio.sleep(self.delay)
        status = 1 if self.step == self.fail_at else 0
        return types.SimpleNamespace(exit_status=status, stdout="changed\n", stderr="boom")


def run_fake(monkeypatch, linear: bool, fail_at: dict[str, int]) -> tuple[list[str], list]:
    order: list = []
    delays = {"fast": 0.0, "slow": 0.01, "bad": 0.0}

    def connect(address, **_):
        return FakeConnection(address, order, fail_at.get(address), delays[address])

    monkeypatch.setattr(bare.asyncssh, "connect", connect)
    monkeypatch.setattr(bare.asyncssh, "read_private_key", lambda path: None)
    monkeypatch.setattr(bare.asyncssh, "read_known_hosts", lambda path: None)
    targets = [(name, name) for name in delays]
    results = asyncio.run(bare.run_all(targets, "/w", "root", "k", "kh", linear=linear))
    return results, order


def test_linear_runs_step_by_step_and_survives_a_failed_host(monkeypatch):
    results, order = run_fake(monkeypatch, linear=True, fail_at={"bad": 3})
    steps = [step for _, step in order]
    assert steps == sorted(steps)  # no host starts step k+1 before every host finished step k
    assert results[0].startswith("fast ok=10 changed=9\nfast report: ")
    assert results[1].startswith("slow ok=10 changed=9")
    assert results[2] == "bad failed step=3 rc=1: boom"
    assert ("bad", 4) not in order


def test_free_lets_each_host_go_at_its_own_pace(monkeypatch):
    results, order = run_fake(monkeypatch, linear=False, fail_at={})
    steps = [step for _, step in order]
    assert steps != sorted(steps)  # the fast hosts finish before the slow one's second step
    assert all(" ok=10 " in r for r in results)
