"""The playbook loader: the model it builds and the errors it reports (file:line:col, hints)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestr.errors import ParseError, ParseErrors
from orchestr.playbook.loader import (
    load_playbook,
    load_role,
    load_task_file,
    parse_kv,
    resolve_task_file,
)
from orchestr.playbook.model import Block, LoopWith, Task
from orchestr.playbook.modules import base


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module contracts of playbooks/registry.yml, not the registry being written."""
    from test_loader_corpus import fake_registry

    monkeypatch.setattr(base, "REGISTRY", fake_registry())


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


def test_import_tasks_applies_when_tags_vars_to_each_task(tmp_path: Path) -> None:
    write(tmp_path, "tasks/inner.yml", "- debug: msg=a\n  when: b\n  vars: {v: 2, w: 3}\n")
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: all
          tasks:
            - import_tasks: tasks/inner.yml
              when: a
              tags: [x]
              become: true
              vars: {v: 1}
        """,
    )
    (task,) = load_playbook(str(path)).plays[0].tasks
    assert isinstance(task, Task)
    assert task.when == ("a", "b")
    assert task.tags == frozenset({"x"})
    assert task.vars == {"v": 2, "w": 3}
    assert task.become is True
    assert task.location.path.endswith("tasks/inner.yml")


def test_roles_dependencies_handlers_and_role_paths(tmp_path: Path) -> None:
    write(tmp_path, "roles/base/tasks/main.yml", "- debug: msg=base\n")
    write(tmp_path, "roles/web/meta/main.yml", "dependencies: [base]\n")
    write(tmp_path, "roles/web/tasks/main.yaml", "- template: src=a.j2 dest=/tmp/a\n")
    write(tmp_path, "roles/web/handlers/main.yml", "- name: reload\n  debug: msg=r\n")
    write(tmp_path, "roles/web/defaults/main.yml", "port: 80\n")
    write(tmp_path, "roles/web/vars/main.yml", "user: www\n")
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: all
          roles:
            - role: web
              vars: {port: 8080}
              when: ok
              tags: web
              extra: 1
        """,
    )
    base, web = load_playbook(str(path)).plays[0].roles
    assert base.name == "base" and base.tasks[0].role == "base"
    assert web.params == {"port": 8080, "extra": 1}
    assert web.when == ("ok",) and web.tags == frozenset({"web"})
    assert web.defaults == {"port": 80} and web.vars == {"user": "www"}
    assert web.handlers[0].name == "reload"
    (task,) = web.tasks
    assert task.role == "web" and task.role_path == str(tmp_path / "roles" / "web")


def test_import_role_expands_and_records_the_role(tmp_path: Path) -> None:
    write(tmp_path, "roles/web/tasks/setup.yml", "- debug: msg=setup\n")
    write(tmp_path, "roles/web/defaults/main.yml", "port: 80\n")
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: all
          tasks:
            - import_role: {name: web, tasks_from: setup}
              when: x
            - include_role: {name: web}
        """,
    )
    play = load_playbook(str(path)).plays[0]
    imported, included = play.tasks
    assert isinstance(imported, Task) and imported.args == {"msg": "setup"}
    assert imported.role == "web" and imported.when == ("x",)
    assert isinstance(included, Task) and included.module == "include_role"
    assert play.imported_roles[0].defaults == {"port": 80}


def test_errors_in_included_and_imported_files_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "inc.yml", "- debug: msg=a\n  bogus: 1\n")
    write(tmp_path, "imp.yml", "- shel: ls\n")
    write(tmp_path, "other.yml", "- hosts: all\n  strategy: fast\n")
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: all
          tasks:
            - include_tasks: inc.yml
            - import_tasks: imp.yml
            - include_tasks: "{{ later }}.yml"
        - import_playbook: other.yml
        """,
    )
    found = {
        (Path(e.location.path).name, e.location.line, e.location.column) for e in errors_of(path)
    }
    # An include_tasks file is read only when the include runs (Ansible): its problems are
    # warnings at load time, errors when it runs.
    assert found == {("imp.yml", 1, 3), ("other.yml", 2, 13)}
    write(tmp_path, "imp.yml", "- shell: ls\n")
    write(tmp_path, "other.yml", "- hosts: all\n")
    warnings: list[str] = []
    load_playbook(str(path), warnings)
    assert len(warnings) == 1 and "inc.yml:2:3" in warnings[0]


def test_import_playbook_cycle_and_vars(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "- import_playbook: b.yml\n")
    write(tmp_path, "b.yml", "- import_playbook: a.yml\n")
    (error,) = errors_of(tmp_path / "a.yml")
    assert "import_playbook cycle: a.yml -> b.yml -> a.yml" in error.message
    assert (error.location.line, error.location.column) == (1, 20)
    write(tmp_path, "c.yml", "- hosts: all\n  vars: {a: 1, b: 1}\n  tasks: [{debug: msg=c}]\n")
    write(tmp_path, "d.yml", "- import_playbook: c.yml\n  vars: {b: 2}\n  when: go\n")
    (play,) = load_playbook(str(tmp_path / "d.yml")).plays
    assert play.vars == {"a": 1, "b": 2}
    assert play.tasks[0].when == ("go",)


def test_load_task_file_for_a_role(tmp_path: Path) -> None:
    write(tmp_path, "roles/web/tasks/main.yml", "- include_tasks: more.yml\n")
    write(tmp_path, "roles/web/tasks/more.yml", "- debug: msg=m\n")
    role = load_role("web", str(tmp_path))
    (include,) = role.tasks
    found = resolve_task_file("more.yml", include, str(tmp_path))
    assert found == str(tmp_path / "roles/web/tasks/more.yml")
    (task,) = load_task_file(found, role)
    assert task.role == "web"


def test_a_single_error_is_a_parse_error_and_many_are_parse_errors(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yml", "- hosts: all\n  tasks: [{debug: msg=a, wehn: x}]\n")
    with pytest.raises(ParseError) as caught:
        load_playbook(str(one))
    assert not isinstance(caught.value, ParseErrors)
    two = write(tmp_path, "two.yml", "- hosts: all\n  become: maybe\n  serial: x\n")
    with pytest.raises(ParseErrors) as many:
        load_playbook(str(two))
    assert len(many.value.errors) == 2


def test_vars_files_checked_only_without_templates(tmp_path: Path) -> None:
    write(tmp_path, "vars/ok.yml", "a: 1\n")
    write(tmp_path, "vars/broken.yml", "a: [1\n")
    path = write(
        tmp_path,
        "site.yml",
        """
        - hosts: all
          vars_files: [vars/ok.yml, "vars/{{ env }}.yml", vars/broken.yml]
        """,
    )
    (error,) = errors_of(path)
    assert error.location.path.endswith("broken.yml") and "invalid YAML" in error.message


def test_loading_1000_tasks(tmp_path: Path) -> None:
    """A big playbook loads whole (its speed is measured in bench/, never asserted here)."""
    lines = ["- hosts: all", "  tasks:"]
    for i in range(1000):
        lines += [
            f"    - name: task {i}",
            f"      copy: src=f{i} dest=/tmp/f{i}"
            if i % 2
            else f"      debug: msg='{{{{ x }}}} {i}'",
            f"      when: a == {i}",
            "      tags: [t]",
        ]
    path = write(tmp_path, "big.yml", "\n".join(lines) + "\n")
    playbook = load_playbook(str(path))
    assert len(playbook.plays[0].tasks) == 1000
    assert playbook.plays[0].tasks[999].when == ("a == 999",)
