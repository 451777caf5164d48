"""async/poll and async_status (issue 13 item 3). The expected results and recaps are
ansible-playbook 2.19's on the same local inventory; the job script is also run under dash and
busybox sh/awk/date, since hosts have no Python."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_keywords_content import run

from orchestr.playbook.modules.async_status import (
    _AWK,
    CLEANUP,
    JOB,
    STATUS,
    TIMEOUT_MESSAGE,
    cleanup_command,
    kill_after,
    launch_command,
    status_command,
    status_result,
)
from orchestr.transport.command import Command


def test_status_and_cleanup_commands_are_exact():
    assert status_command("j1.2").render() == (
        'sh -c \'f="$HOME/.ansible_async/$1"; echo "$f"; [ -f "$f" ] || exit 3; cat "$f"\''
        " status j1.2"
    )
    assert cleanup_command("j1.2").render() == (
        'sh -c \'f="$HOME/.ansible_async/$1"; echo "$f"; rm -f -- "$f"\' cleanup j1.2'
    )


def test_launch_command_parts():
    command = launch_command("j7", 12, Command.argv("echo", "a b"), ["echo", "a b"], True)
    assert command.parts[:9] == ("sh", "-c", command.parts[2], "launch", "j7", JOB, "15",
                                 '["echo", "a b"]', command.parts[8])  # fmt: skip
    assert command.render().endswith(" 'echo '\"'\"'a b'\"'\"'' 1 " + _shell_quoted(_AWK))
    assert kill_after(2) == 2 and kill_after(5) == 5 and kill_after(7) == 10


def _shell_quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _shells() -> list[str]:
    found = []
    if shutil.which("dash"):
        found.append("dash")
    if shutil.which("busybox"):
        found.append("busybox")
    return found


@pytest.mark.parametrize("shell", _shells())
def test_job_writes_ansible_json(tmp_path, shell):
    env = {**os.environ, "HOME": str(tmp_path)}
    if shell == "busybox":  # every tool the job uses from busybox: sh, awk, date, sleep
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for tool in ("sh", "awk", "date", "sleep", "setsid", "mkdir", "mv", "rm", "cat"):
            (bin_dir / tool).symlink_to(shutil.which("busybox"))
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    text = "printf 'a\"b\\\\c\\td\\001é\\n\\n'; printf 'x\\n\\n\\n' >&2; exit 3"
    line = Command.shell(text)
    argv = launch_command("j5", 10, line, text, True)
    start = subprocess.run([shell if shell == "dash" else str(tmp_path / "bin" / "sh"), "-c",
                            argv.parts[2], *[p if isinstance(p, str) else p.command.render()
                                             for p in argv.parts[3:]]],
                           capture_output=True, text=True, env=env, check=True)  # fmt: skip
    jid, path = start.stdout.splitlines()
    assert jid.startswith("j5.") and path == f"{tmp_path}/.ansible_async/{jid}"
    for _ in range(400):  # up to 20 s on a loaded machine
        data = json.loads(Path(path).read_text())
        if data["finished"]:
            break
        time.sleep(0.05)
    assert data.pop("start") <= data.pop("end")  # busybox date: whole seconds
    assert data.pop("delta").startswith(("0:00:00.", "0:00:01."))
    assert data == {"started": True, "finished": True, "ansible_job_id": jid, "changed": True,
                    "cmd": text, "rc": 3, "stdout": 'a"b\\c\td\x01é', "stderr": "x",
                    "failed": True, "msg": "non-zero return code"}  # fmt: skip
    assert sorted(os.listdir(tmp_path / ".ansible_async")) == [jid]


def test_status_results_as_ansible():
    running = status_result("j1.2", 0, '/h/.ansible_async/j1.2\n{"started": true, '
                            '"finished": false, "ansible_job_id": "j1.2"}\n')  # fmt: skip
    assert running.registered() == {
        "ansible_job_id": "j1.2", "changed": False, "failed": False, "finished": False,
        "results_file": "/h/.ansible_async/j1.2", "started": True, "stderr": "",
        "stderr_lines": [], "stdout": "", "stdout_lines": [],
    }  # fmt: skip
    missing = status_result("nope", 3, "/h/.ansible_async/nope\n")
    assert missing.registered() == {
        "ansible_job_id": "nope", "changed": False, "failed": True, "finished": True,
        "msg": "could not find job", "results_file": "/h/.ansible_async/nope", "started": True,
        "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": [],
    }  # fmt: skip
    assert "exit 3" in STATUS and "rm -f" in CLEANUP
    assert TIMEOUT_MESSAGE.format(seconds=2) == (
        "async task did not complete within the requested time - 2s"
    )


PLAYBOOK = """
- hosts: nodes
  gather_facts: false
  tasks:
    - shell: "sleep 1; echo out; echo err >&2"
      async: 10
      poll: 0
      register: j
    - assert:
        that: [j.started, not j.finished, j.changed, "j.results_file.endswith(j.ansible_job_id)"]
    - async_status: jid={{ j.ansible_job_id }}
      register: s
      until: s.finished
      retries: 10
      delay: 1
    - assert:
        that: [s.stdout == 'out', s.stderr == 'err', s.rc == 0, s.changed, s.attempts > 1,
               "s.cmd == 'sleep 1; echo out; echo err >&2'", s.msg == '']
    - async_status: jid={{ j.ansible_job_id }} mode=cleanup
      register: c
    - assert:
        that: [c.erased == j.results_file, not c.changed, not c.started, not c.finished]
    - command: echo hi
      async: 10
      poll: 1
      register: p
    - assert:
        that: [p.stdout == 'hi', p.finished, "p.cmd == ['echo', 'hi']"]
    - stat: path={{ p.results_file }}
      register: gone
    - assert: {that: [not gone.stat.exists]}
    - command: "false"
      async: 10
      poll: 1
      ignore_errors: true
    - command: sleep 5
      async: 2
      poll: 1
      register: t
      ignore_errors: true
    - assert:
        # Racy in Ansible too: its wrapper may kill the job before the last poll sees it.
        that: ["t.msg in ['async task did not complete within the requested time - 2s',
                          'Timeout exceeded']", t.failed]
    - async_status: jid=nope
      ignore_errors: true
"""


def test_async_playbook_as_ansible(tmp_path, monkeypatch):
    # ansible-playbook 2.19: ok=14 changed=4 failed=0 ignored=3 on each host.
    done, recap = run(tmp_path, PLAYBOOK, inventory="[nodes]\nn1 ansible_connection=local\n")
    assert recap == {"n1": (14, 4, 0, 0, 0)}, done.stdout + done.stderr
    assert done.returncode == 0


def test_async_other_modules_refused(tmp_path):
    done, recap = run(
        tmp_path,
        f"""
        - hosts: nodes
          gather_facts: false
          tasks:
            - file: path={tmp_path}/x state=touch
              async: 10
              poll: 0
        """,
        inventory="[nodes]\nn1 ansible_connection=local\n",
    )
    assert recap == {"n1": (0, 0, 0, 1, 0)}
    assert "orchestr runs only command, shell, raw with async for now, not file" in done.stdout
