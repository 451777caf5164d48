"""The playbook loader: the model it builds and the errors it reports (file:line:col, hints)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestr.errors import ParseError, ParseErrors
from orchestr.playbook.loader import load_playbook, load_task_file, parse_kv
from orchestr.playbook.model import Block, LoopWith, Task


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[ParseError]:
    with pytest.raises(ParseError) as caught:
        load_playbook(str(path))
    error = caught.value
    return list(error.errors) if isinstance(error, ParseErrors) else [error]


def test_plays_tasks_blocks_handlers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: [web, db]
          name: demo
          serial: [1, "30%"]
          tasks:
            - name: copy it
              ansible.builtin.copy: src=a.txt dest=/tmp/a
            - shell: echo hi chdir=/tmp
              register: out
              when: [out is defined, true]
              tags: a,b
            - block:
                - debug: msg=x
              rescue:
                - meta: flush_handlers
          handlers:
            - name: restart
              debug: msg=r
              listen: web
        """,
    )
    play = load_playbook(str(path)).plays[0]
    assert play.hosts == "web,db"
    assert play.serial == (1, "30%")
    copy, shell, block = play.tasks
    assert isinstance(copy, Task) and copy.module == "copy"
    assert copy.args == {"src": "a.txt", "dest": "/tmp/a"}
    assert (copy.location.line, copy.location.column) == (5, 7)
    assert shell.args == {"_raw_params": "echo hi", "chdir": "/tmp"}
    assert shell.when == ("out is defined", True)
    assert shell.tags == frozenset({"a", "b"})
    assert isinstance(block, Block) and block.rescue[0].module == "meta"
    assert play.handlers[0].listen == ("web",)


def test_reports_every_error_with_location_and_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yml",
        """
        - hosts: all
          gather_fact: no
          tasks:
            - cpy: src=a dest=b
            - debug: msg=hi
              wehn: x
        """,
    )
    found = [(e.location.line, e.location.column, e.message, e.hint) for e in errors_of(path)]
    assert found == [
        (2, 3, "'gather_fact' is not a valid attribute for a Play", "did you mean 'gather_facts'?"),
        (4, 7, "couldn't resolve module/action 'cpy'", "did you mean 'copy'?"),
        (6, 7, "'wehn' is not a valid attribute for a Task", "did you mean 'when'?"),
    ]


def test_with_items_is_kept_as_lookup(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yml",
        """
        - debug: msg={{ item }}
          with_items: [1, [2, 3]]
        - debug: msg={{ item }}
          with_list: [1]
        """,
    )
    first, second = load_task_file(str(path))
    assert first.loop == LoopWith("items", [1, [2, 3]])
    assert second.loop == [1]


def test_parse_kv_free_form_keeps_command() -> None:
    assert parse_kv("echo a=b 'c d' creates=/x", free_form=True) == {
        "_raw_params": "echo a=b 'c d'",
        "creates": "/x",
    }
    assert parse_kv('src=a dest="b c" mode={{ m | default(1) }}', free_form=False) == {
        "src": "a",
        "dest": "b c",
        "mode": "{{ m | default(1) }}",
    }
