"""`orchestr apply --list-tasks / --list-hosts` print what ansible-playbook 2.19 prints.

Host lines are compared as sets within each play: ansible-playbook prints a Python set."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestr.playbook.cli import apply_command

ANSIBLE = Path(sys.executable).with_name("ansible-playbook")
pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible-playbook not installed")

FILES = {
    "hosts.ini": """
        [web]
        web1 ansible_host=127.0.0.1
        web2 ansible_host=127.0.0.1
        [db]
        db1 ansible_host=127.0.0.1
    """,
    "roles/web/tasks/main.yml": """
        - name: install web
          debug: msg=web
          tags: [pkg]
        - import_tasks: extra.yml
        - include_tasks: dyn.yml
    """,
    "roles/web/tasks/extra.yml": "- name: extra {{ x }}\n  debug: msg=extra\n",
    "roles/web/tasks/dyn.yml": "- debug: msg=dyn\n",
    "roles/web/handlers/main.yml": "- name: restart web\n  debug: msg=r\n",
    "roles/db/tasks/main.yml": "- debug: msg=db\n  tags: dbtag\n",
    "tasks.yml": """
        - name: imported one
          debug: msg=1
        - name: imported two
          command: echo 2
          tags: [two]
    """,
    "pb1.yml": """
        - name: First play {{ x }}
          hosts: web
          tags: [p1]
          vars:
            x: one
          pre_tasks:
            - name: pre
              debug: msg=pre
          roles:
            - web
            - role: db
              tags: [dbrole]
          tasks:
            - name: plain task
              debug: msg=hi
              tags: [a, b]
            - block:
                - name: in block
                  debug: msg=b
                - debug: msg=unnamed
              rescue:
                - name: rescued
                  debug: msg=r
              always:
                - name: always
                  debug: msg=a
              tags: blk
            - import_tasks: tasks.yml
              tags: imp
            - include_tasks: tasks.yml
            - name: templated {{ inventory_hostname }}
              command: echo hi
            - include_role:
                name: db
            - import_role:
                name: db
          post_tasks:
            - name: post
              debug: msg=post
          handlers:
            - name: h
              debug: msg=h
        - hosts: db:web
          gather_facts: false
          tasks:
            - debug: msg=x
            - set_fact: a=1
        - name: empty
          hosts: nosuch
          tasks: []
    """,
    "pb2.yml": """
        - hosts: all
          tasks:
            - meta: flush_handlers
            - name: last
              debug: var=x
              tags: [never, debug]
            - name: always one
              debug: msg=x
              tags: always
        - name: second
          hosts: db
          roles: [web]
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def _normal(text: str) -> list:
    """Lines, with each play's host lines as a set (ansible prints a set)."""
    out: list = []
    hosts: set[str] | None = None
    for line in text.splitlines():
        if line.startswith("[WARNING]"):
            continue
        if line.startswith("    hosts ("):
            out.append(line)
            hosts = set()
            out.append(hosts)
            continue
        if hosts is not None and line.startswith("      ") and "\t" not in line:
            hosts.add(line)
            continue
        hosts = None
        out.append(line)
    return out


@pytest.mark.parametrize("playbook", ["pb1.yml", "pb2.yml"])
@pytest.mark.parametrize(
    "flags",
    [["--list-tasks"], ["--list-hosts"], ["--list-tasks", "--list-hosts"],
     ["--list-tasks", "--tags", "a,dbtag,debug"], ["--list-tasks", "--skip-tags", "p1"]],
)  # fmt: skip
def test_list_output_is_ansibles(project: Path, playbook: str, flags: list[str]) -> None:
    args = [*flags, "-i", "hosts.ini", playbook]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    real = subprocess.run([str(ANSIBLE), *args], cwd=project, capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    cwd = os.getcwd()
    os.chdir(project)
    try:
        ours = CliRunner().invoke(apply_command, args)
    finally:
        os.chdir(cwd)
    assert ours.exit_code == 0, ours.output
    assert _normal(ours.stdout) == _normal(real.stdout)
