"""Lookups and the with_<lookup> loops they make: first_found's search, each with_* form, and
the same playbook run by ansible-playbook and by orchestr on localhost (their items compared)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from orchestr.playbook.lookups import loop_lookup
from orchestr.playbook.templar import Templar, TemplateError

BIN = Path(sys.executable).parent


def write(root: Path, name: str, text: str = "") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A playbook folder with files/, templates/, vars/, a task file folder and a role."""
    write(tmp_path, "files/a.txt", "alpha\n")
    write(tmp_path, "files/b.txt", "beta\n")
    write(tmp_path, "templates/t.j2", "{{ x }}\n")
    write(tmp_path, "vars/main.yml", "v: 1\n")
    write(tmp_path, "top.txt", "top\n")
    write(tmp_path, "tasks/near.txt", "near\n")
    write(tmp_path, "roles/r/files/rf.txt", "role file\n")
    write(tmp_path, "roles/r/here.txt", "role top\n")
    return tmp_path


def role_templar(tree: Path, **variables: Any) -> Templar:
    """A templar as the runner makes one for a task of roles/r/tasks/main.yml."""
    role = tree / "roles" / "r"
    paths = [str(role), str(role / "tasks"), str(tree)]
    return Templar({"playbook_dir": str(tree), **variables}, search_paths=paths)


def play_templar(tree: Path, **variables: Any) -> Templar:
    return Templar({"playbook_dir": str(tree), **variables}, search_paths=[str(tree)])


# --- first_found -------------------------------------------------------------------------------


def test_first_found_lookup_searches_the_paths_themselves(tree: Path) -> None:
    templar = role_templar(tree)
    assert templar.render("{{ lookup('first_found', 'here.txt') }}") == str(
        tree / "roles/r/here.txt"
    )
    assert templar.render("{{ lookup('first_found', ['nope', 'top.txt']) }}") == str(
        tree / "top.txt"
    )
    # as a lookup, files/ is not searched (ansible-core 2.19 does the same)
    assert templar.render("{{ lookup('first_found', 'rf.txt', errors='ignore') }}") is None
    assert templar.render("{{ lookup('first_found', 'files/a.txt') }}") == str(tree / "files/a.txt")
    assert templar.render("{{ lookup('first_found', 'nope', skip=True) }}") == []
    with pytest.raises(TemplateError, match="No file was found when using first_found"):
        templar.render("{{ lookup('first_found', 'nope') }}")


def test_first_found_terms_paths_and_options(tree: Path) -> None:
    templar = play_templar(tree)
    found = templar.render("{{ lookup('first_found', 'nope.txt,top.txt') }}")  # old splitting
    assert found == str(tree / "top.txt")
    spec = {"files": ["b.txt", "a.txt"], "paths": ["/nonexistent", str(tree / "files")]}
    # every path with every file, path first: the first path that has any file wins
    assert Templar({"spec": spec}, search_paths=[str(tree)]).render(
        "{{ q('first_found', spec) }}"
    ) == [str(tree / "files/b.txt")]
    assert templar.render("{{ lookup('first_found', files=['nope', 'top.txt']) }}") == str(
        tree / "top.txt"
    )
    assert templar.render(
        "{{ lookup('first_found', {'files': ['a.txt'], 'paths': ['files']}) }}"
    ) == str(tree / "files/a.txt")
    assert templar.render("{{ lookup('first_found', '" + str(tree / "top.txt") + "') }}") == str(
        tree / "top.txt"
    )
    with pytest.raises(TemplateError, match="undefined_name"):
        templar.render("{{ lookup('first_found', ['nope', undefined_name]) }}")


def test_with_first_found_searches_the_actions_folder(tree: Path) -> None:
    templar = role_templar(tree, files=["nope.txt", "rf.txt"])
    # files/ for most actions, in the role first, then beside the playbook
    assert loop_lookup(templar, "first_found", ["rf.txt"], "debug") == [
        str(tree / "roles/r/files/rf.txt")
    ]
    assert loop_lookup(templar, "first_found", ["a.txt"], "copy") == [str(tree / "files/a.txt")]
    # templates/ for the template module, vars/ for include_vars
    assert loop_lookup(templar, "first_found", ["t.j2"], "ansible.builtin.template") == [
        str(tree / "templates/t.j2")
    ]
    assert loop_lookup(templar, "first_found", ["main.yml"], "include_vars") == [
        str(tree / "vars/main.yml")
    ]
    # undefined names are dropped (with_ only), a template of a list is that list
    assert loop_lookup(templar, "first_found", "{{ files }}", "debug") == [
        str(tree / "roles/r/files/rf.txt")
    ]
    terms = [{"files": ["nope.txt", "{{ undefined_name }}", "b.txt"], "paths": ["files"]}]
    assert loop_lookup(templar, "first_found", terms, "debug") == [str(tree / "files/b.txt")]
    assert loop_lookup(templar, "first_found", [{"files": ["nope"], "skip": True}], "x") == []
    with pytest.raises(TemplateError, match="No file was found"):
        loop_lookup(templar, "first_found", ["nope"], "debug")


def test_a_task_file_folder_is_searched_before_the_playbooks(tree: Path) -> None:
    templar = Templar({}, search_paths=[str(tree / "tasks"), str(tree)])
    assert templar.render("{{ lookup('first_found', 'near.txt') }}") == str(tree / "tasks/near.txt")
    assert templar.render("{{ lookup('file', 'near.txt') }}") == "near"


# --- the other with_ forms ---------------------------------------------------------------------


def test_with_file_lines_env_fileglob(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WITH_SET", "set")
    monkeypatch.delenv("WITH_UNSET", raising=False)
    templar = role_templar(tree)
    assert loop_lookup(templar, "file", ["a.txt", "rf.txt"]) == ["alpha", "role file"]
    assert loop_lookup(templar, "file", "a.txt") == ["alpha"]
    assert loop_lookup(templar, "lines", "cat files/a.txt files/b.txt") == ["alpha", "beta"]
    assert loop_lookup(templar, "lines", ["printf 'x\\n\\ny'"]) == ["x", "", "y"]
    with pytest.raises(TemplateError, match=r"lookup_plugin.lines\(exit 3\) returned 3"):
        loop_lookup(templar, "lines", "exit 3")
    assert loop_lookup(templar, "env", ["WITH_SET", "WITH_UNSET"]) == ["set", ""]
    assert loop_lookup(templar, "fileglob", ["*.txt"]) == [str(tree / "roles/r/files/rf.txt")]
    assert loop_lookup(play_templar(tree), "fileglob", "*.txt") == [
        str(tree / "files/a.txt"), str(tree / "files/b.txt"),
    ]  # fmt: skip
    assert loop_lookup(play_templar(tree), "fileglob", "files/a*") == [str(tree / "files/a.txt")]


def test_with_flattened_random_choice_subelements(tree: Path) -> None:
    templar = play_templar(tree, more=[5, [6]])
    terms = [[1, [2, [3]]], None, "null", 4, "{{ more }}"]
    assert loop_lookup(templar, "flattened", terms) == [1, 2, 3, 4, 5, 6]
    assert templar.render("{{ lookup('community.general.flattened', [1, [2]], [[3]]) }}") == [
        1, 2, 3,
    ]  # fmt: skip
    picks = {loop_lookup(templar, "random_choice", ["a", "b", "c"])[0] for _ in range(60)}
    assert picks <= {"a", "b", "c"} and len(picks) > 1
    assert loop_lookup(templar, "random_choice", []) == []
    users = [{"name": "ada", "keys": ["k1", "k2"]}, {"name": "bob", "keys": []}]
    assert loop_lookup(Templar({"users": users}), "subelements", ["{{ users }}", "keys"]) == [
        [{"name": "ada"}, "k1"], [{"name": "ada"}, "k2"],
    ]  # fmt: skip


def test_with_inventory_hostnames(tree: Path) -> None:
    groups = {"all": ["localhost", "w1", "w2", "d1"], "ungrouped": ["localhost"],
              "web": ["w1", "w2"], "db": ["d1", "w1"]}  # fmt: skip
    templar = play_templar(tree, groups=groups)
    assert loop_lookup(templar, "inventory_hostnames", "all") == ["localhost", "w1", "w2", "d1"]
    assert loop_lookup(templar, "inventory_hostnames", "all:!db") == ["localhost", "w2"]
    assert loop_lookup(templar, "inventory_hostnames", ["web", "&db"]) == ["w1"]
    assert loop_lookup(templar, "inventory_hostnames", "w*") == ["w1", "w2"]
    assert loop_lookup(templar, "inventory_hostnames", "nothing") == []
    assert templar.render("{{ lookup('inventory_hostnames', 'db') }}") == "d1,w1"


# --- against ansible-playbook ------------------------------------------------------------------

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles: [r]
  vars:
    users:
      - {name: ada, keys: [k1, k2]}
      - {name: bob, keys: [k3]}
  tasks:
    - debug: {msg: "{{ item }}"}
      with_first_found: [nope.txt, a.txt]
      register: ff
    - debug: {msg: "{{ item }}"}
      with_first_found:
        - files: [nope.txt, "{{ undefined_var }}", b.txt]
          paths: [/nonexistent, files]
      register: ff_paths
    - debug: {msg: "{{ item }}"}
      with_first_found:
        - files: [nope.txt]
          skip: true
      register: ff_skip
    - debug: {msg: "{{ item }}"}
      with_file: [a.txt, b.txt]
      register: wf
    - debug: {msg: "{{ item }}"}
      with_lines: cat files/a.txt files/b.txt
      register: wl
    - debug: {msg: "{{ item }}"}
      with_env: [WITH_SET, WITH_UNSET]
      register: we
    - debug: {msg: "{{ item }}"}
      with_random_choice: [only]
      register: wr
    - debug: {msg: "{{ item }}"}
      with_inventory_hostnames: "all:!db"
      register: wi
    - debug: {msg: "{{ item }}"}
      with_inventory_hostnames: [web, "&db"]
      register: wi_and
    - debug: {msg: "{{ item }}"}
      with_fileglob: ["*.txt"]
      register: wg
    - debug: {msg: "{{ item.0.name }} {{ item.1 }}"}
      with_subelements: ["{{ users }}", keys]
      register: ws
    - name: every loop's items
      debug:
        msg:
          role_ff: "{{ role_ff.results | map(attribute='item') | list }}"
          ff: "{{ ff.results | map(attribute='item') | list }}"
          ff_paths: "{{ ff_paths.results | map(attribute='item') | list }}"
          ff_skip: "{{ [ff_skip.results | length, ff_skip.skipped | default(false)] }}"
          wf: "{{ wf.results | map(attribute='item') | list }}"
          wl: "{{ wl.results | map(attribute='item') | list }}"
          we: "{{ we.results | map(attribute='item') | list }}"
          wr: "{{ wr.results | map(attribute='item') | list }}"
          wi: "{{ wi.results | map(attribute='item') | list }}"
          wi_and: "{{ wi_and.results | map(attribute='item') | list }}"
          wg: "{{ wg.results | map(attribute='item') | sort }}"
          ws: "{{ ws.results | map(attribute='msg') | list }}"
          ws_items: "{{ ws.results | map(attribute='item') | list }}"
          comment: "{{ 'a' | ansible.builtin.comment('c') }}"
"""

INVENTORY = """
localhost ansible_connection=local
[web]
w1
w2
[db]
d1
w1
"""

ROLE_TASKS = """
- debug: {msg: "{{ item }}"}
  with_first_found: [rf.txt, a.txt]
  register: role_ff
"""


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    from test_templar_oracle import CALLBACK

    if not (BIN / "ansible-playbook").exists():
        pytest.skip("ansible-playbook is not installed")
    root = tmp_path_factory.mktemp("with_forms")
    write(root, "files/a.txt", "alpha\n")
    write(root, "files/b.txt", "beta\n")
    write(root, "roles/r/files/rf.txt", "role file\n")
    write(root, "roles/r/tasks/main.yml", ROLE_TASKS)
    write(root, "inventory.ini", INVENTORY)
    write(root, "site.yml", PLAYBOOK)
    write(root, "callbacks/oracle_json.py", CALLBACK)
    home = root / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    base.update(WITH_SET="set", NO_COLOR="1")
    base.pop("WITH_UNSET", None)
    ansible_env = {
        **base, "HOME": str(home), "ANSIBLE_STDOUT_CALLBACK": "oracle_json",
        "ANSIBLE_CALLBACK_PLUGINS": str(root / "callbacks"), "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"), "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }  # fmt: skip
    ansible = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "inventory.ini", "site.yml"],
        cwd=root, env=ansible_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ansible.returncode == 0, ansible.stdout[-3000:] + ansible.stderr[-3000:]
    ansible_last = json.loads(ansible.stdout.strip().splitlines()[-1])[-1]["msg"]
    ours = subprocess.run(
        [str(BIN / "orchestr"), "apply", "-i", "inventory.ini", "--json", "site.yml"],
        cwd=root, env={**base, "ORCHESTR_STATE_DIR": str(root / "state")},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ours.returncode == 0, ours.stdout[-3000:] + ours.stderr[-3000:]
    events = [json.loads(line) for line in ours.stdout.splitlines() if line.startswith("{")]
    results = [e for e in events if e.get("event") == "host_result"]
    return ansible_last, results[-1]["result"]["msg"], root


@pytest.mark.parametrize(
    "key",
    ["role_ff", "ff", "ff_paths", "ff_skip", "wf", "wl", "we", "wr", "wi", "wi_and", "wg", "ws",
     "ws_items", "comment"],
)  # fmt: skip
def test_with_forms_match_ansible(key: str, both_runs: tuple[Any, Any, Path]) -> None:
    ansible, ours, _ = both_runs
    assert ours[key] == ansible[key]


def test_the_comparison_saw_real_items(both_runs: tuple[Any, Any, Path]) -> None:
    ansible, _, root = both_runs
    assert ansible["ff"] == [str(root / "files/a.txt")]
    assert ansible["role_ff"] == [str(root / "roles/r/files/rf.txt")]
    assert ansible["ff_skip"] == [0, True]
    assert ansible["wi"] == ["localhost", "w2"]
