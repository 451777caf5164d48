"""Keywords real content uses (issue 13 item 3): notify on a block, throttle, delegate_facts,
remote_user and connection, vars_files first_found, vars_prompt. Each case was checked against
ansible-playbook 2.19 on the same local inventory; the expected recaps and messages are its."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

from orchestr.playbook.loader import load_playbook
from orchestr.transport.settings import ConnectionSettings

ORCHESTR = os.path.join(os.path.dirname(sys.executable), "orchestr")


def run(tmp_path, playbook: str, *args: str, inventory: str | None = None):
    inv = tmp_path / "inv.ini"
    inv.write_text(inventory or "[nodes]\nn1 ansible_connection=local\n"
                   "n2 ansible_connection=local\nn3 ansible_connection=local\n")  # fmt: skip
    book = tmp_path / "play.yml"
    book.write_text(textwrap.dedent(playbook))
    done = subprocess.run([ORCHESTR, "apply", "-i", str(inv), str(book), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    recap = {m[0]: tuple(int(x) for x in m[1:]) for m in re.findall(
        r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)",
        done.stdout, re.M)}  # fmt: skip
    return done, recap


def test_block_notify_and_delegate_facts(tmp_path):
    done, recap = run(
        tmp_path,
        """
        - hosts: nodes
          gather_facts: false
          tasks:
            - block:
                - command: "true"
                  changed_when: inventory_hostname != 'n2'
                - command: "true"
                  notify: other
              notify: h1
            - set_fact: {mine: "{{ inventory_hostname }}"}
              delegate_to: n3
              delegate_facts: true
              when: inventory_hostname == 'n1'
            - set_fact: {x: 1}
              delegate_to: n3
              when: inventory_hostname == 'n2'
            - debug: {msg: "{{ inventory_hostname }}={{ mine | default('none') }},{{ x | default('no') }}"}
          handlers:
            - {name: h1, debug: {msg: h1}}
            - {name: other, debug: {msg: other}}
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert recap == {"n1": (6, 2, 0, 0, 1), "n2": (5, 1, 0, 0, 1), "n3": (5, 2, 0, 0, 2)}
    assert "n3=n1,no" in done.stdout and "n2=none,1" in done.stdout


def test_throttle_runs_at_most_n_hosts_at_once(tmp_path):
    started = time.monotonic()
    done, recap = run(
        tmp_path,
        """
        - hosts: nodes
          gather_facts: false
          tasks:
            - command: sleep 0.5
              throttle: 1
    """,
    )
    assert done.returncode == 0
    assert time.monotonic() - started >= 1.5
    assert all(counts[:2] == (1, 1) for counts in recap.values())


def test_play_connection_and_extra_vars_override(tmp_path):
    book = """
        - hosts: nodes
          gather_facts: false
          connection: local
          remote_user: nobody
          tasks:
            - command: echo hi
              changed_when: false
              remote_user: someone
    """
    inventory = ("[nodes]\nr1 ansible_host=127.0.0.9 ansible_port=1\n"
                 "r2 ansible_host=127.0.0.9 ansible_port=1 ansible_connection=ssh\n")  # fmt: skip
    done, recap = run(tmp_path, book, inventory=inventory)
    # As Ansible: the inventory's ansible_connection wins over the play keyword.
    assert done.returncode == 4
    assert recap == {"r1": (1, 0, 0, 0, 0), "r2": (0, 0, 1, 0, 0)}
    done, recap = run(tmp_path, book, "-e", "ansible_connection=local", inventory=inventory)
    assert done.returncode == 0
    assert recap == {"r1": (1, 0, 0, 0, 0), "r2": (1, 0, 0, 0, 0)}


def test_remote_user_keyword_under_ansible_user():
    from types import SimpleNamespace

    from orchestr.errors import Location
    from orchestr.playbook.model import Task
    from orchestr.playbook.runner import HostContext, Scope
    from orchestr.playbook.templar import LayeredVars, Templar

    def settings(task_user, host_vars):
        run = SimpleNamespace(
            inventory=SimpleNamespace(hosts={"h": SimpleNamespace(vars=host_vars)}),
            options=SimpleNamespace(extra_vars={}),
            play=SimpleNamespace(remote_user="play_user", connection=None),
        )
        ctx = HostContext.__new__(HostContext)
        ctx._run, ctx._delegated = run, None
        ctx._task = Task("", "command", {}, Location(""), remote_user=task_user)
        ctx._scope = Scope(remote_user="block_user")
        ctx._templar = Templar(LayeredVars([host_vars]))
        return ctx.connection_settings("h", ConnectionSettings(name="h", user=None))

    assert settings("task_user", {}).user == "task_user"
    assert settings(None, {}).user == "block_user"
    assert settings("task_user", {"ansible_user": "inv"}).user == "inv"


def test_vars_files_first_found(tmp_path):
    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "n1.yml").write_text("a: from_n1\n")
    (tmp_path / "vars" / "default.yml").write_text("a: default\n")
    (tmp_path / "vars" / "plain.yml").write_text("b: plain\n")
    done, _ = run(
        tmp_path,
        """
        - hosts: nodes
          gather_facts: false
          vars: {which: plain}
          vars_files:
            - ["vars/missing.yml", "vars/{{ which }}.yml"]
            - ["vars/{{ inventory_hostname }}.yml", "vars/default.yml"]
          tasks:
            - debug: {msg: "{{ inventory_hostname }} {{ a }} {{ b }}"}
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("n1 from_n1 plain", "n2 default plain", "n3 default plain"):
        assert line in done.stdout


@pytest.mark.parametrize(("extra", "shown"), [((), "1.2 []"), (("-e", "secret=s"), "1.2 [s]")])
def test_vars_prompt_without_a_terminal(tmp_path, extra, shown):
    done, _ = run(
        tmp_path,
        """
        - hosts: nodes
          gather_facts: false
          vars_prompt:
            - {name: version, prompt: Which version?, default: "1.2", private: false}
            - {name: secret, prompt: Password}
          tasks:
            - debug: {msg: "{{ version }} [{{ secret }}]"}
              run_once: true
    """,
        *extra,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown in done.stdout
    assert (done.stdout + done.stderr).count("Not prompting") == 1  # once, as Ansible


def test_keywords_load(tmp_path):
    book = tmp_path / "p.yml"
    book.write_text(
        textwrap.dedent("""
        - hosts: all
          remote_user: deploy
          connection: local
          throttle: 2
          vars_prompt: [{name: v, default: 1}]
          tasks:
            - block: [{command: "true"}]
              notify: h
              throttle: 1
              remote_user: u
              delegate_facts: true
              delegate_to: localhost
    """)
    )
    play = load_playbook(str(book)).plays[0]
    assert (play.remote_user, play.connection, play.throttle) == ("deploy", "local", 2)
    block = play.tasks[0]
    assert (block.notify, block.throttle, block.remote_user) == (("h",), 1, "u")
