"""filter_plugins/ and test_plugins/ (search rules, precedence, loading once), FQCN names in the
templar, and the load-time check of filter, test and lookup names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_loader import errors_of, write

from orchestr.playbook import plugins
from orchestr.playbook.loader import load_playbook
from orchestr.playbook.modules import base
from orchestr.playbook.templar import Templar, TemplateError


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_loader_corpus import fake_registry

    monkeypatch.setattr(base, "REGISTRY", fake_registry())


@pytest.fixture(autouse=True)
def no_configured_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither ~/.ansible/plugins nor /usr/share/ansible/plugins of this machine."""
    monkeypatch.setenv("ANSIBLE_FILTER_PLUGINS", str(tmp_path / "no-filters"))
    monkeypatch.setenv("ANSIBLE_TEST_PLUGINS", str(tmp_path / "no-tests"))


FILTERS = """
from ansible.errors import AnsibleFilterError

def shout(value):
    return str(value).upper() + "!"

def strict(value):
    raise AnsibleFilterError("strict refuses " + str(value))

class FilterModule:
    def filters(self):
        return {"shout": shout, "strict": strict, "to_json": lambda v: "mine", "with.dot": shout}
"""

TESTS = """
class TestModule:
    def tests(self):
        return {"even_length": lambda value: len(value) % 2 == 0}
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write(tmp_path, "filter_plugins/text.py", FILTERS)
    write(tmp_path, "roles/web/test_plugins/sizes.py", TESTS)
    write(tmp_path, "roles/web/tasks/main.yml", "- debug: msg=\"{{ 'ab' is even_length }}\"\n")
    return tmp_path


def test_plugin_folders_beside_the_playbook_and_in_roles(project: Path) -> None:
    plugin_set = plugins.for_bases([str(project), str(project / "roles" / "web")])
    assert set(plugin_set.filters) == {"shout", "strict", "to_json"}  # dotted names are ignored
    assert set(plugin_set.tests) == {"even_length"}
    assert plugin_set.origins[("filter", "shout")] == str(project / "filter_plugins" / "text.py")
    with plugins.active(plugin_set):
        templar = Templar({"word": "ab"})
        assert templar.render("{{ word | shout }}") == "AB!"
        assert templar.render("{{ word | ansible.legacy.shout }}") == "AB!"
        assert templar.render("{{ word is even_length }}") is True
        assert templar.render("{{ [word] | map('shout') | list }}") == ["AB!"]
        assert templar.render("{{ [word, 'abc'] | select('even_length') | list }}") == ["ab"]
        # the playbook's plugin wins for the short name, ansible.builtin keeps Ansible's
        assert templar.render("{{ word | to_json }}") == "mine"
        assert templar.render("{{ word | ansible.builtin.to_json }}") == '"ab"'
        with pytest.raises(TemplateError, match="strict refuses ab"):
            templar.render("{{ word | strict }}")
        with pytest.raises(TemplateError, match="No filter named 'ansible.builtin.shout'"):
            templar.render("{{ word | ansible.builtin.shout }}")
    # outside the run the names are gone again
    with pytest.raises(TemplateError, match="shout"):
        Templar({}).render("{{ 'x' | shout }}")


def test_first_definition_wins_in_search_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (
        "class FilterModule:\n    def filters(self):\n        return {'who': lambda v: 'play'}\n"
    )
    second = (
        "class FilterModule:\n    def filters(self):\n        return {'who': lambda v: 'role'}\n"
    )
    write(tmp_path, "filter_plugins/a.py", first)
    write(tmp_path, "roles/r/filter_plugins/a.py", second)
    write(tmp_path, "roles/r/filter_plugins/b.py", second.replace("'who'", "'only_role'"))
    plugin_set = plugins.for_bases([str(tmp_path), str(tmp_path / "roles" / "r")])
    with plugins.active(plugin_set):
        assert Templar({}).render("{{ 1 | who }}/{{ 1 | only_role }}") == "play/role"
    # configured folders (ANSIBLE_FILTER_PLUGINS) come after the playbook's and roles'
    write(tmp_path, "configured/c.py", first.replace("'play'", "'configured'").replace(
        "'who'", "'cfg'"))  # fmt: skip
    monkeypatch.setenv("ANSIBLE_FILTER_PLUGINS", str(tmp_path / "configured"))
    plugin_set = plugins.for_bases([str(tmp_path)])
    with plugins.active(plugin_set):
        assert Templar({}).render("{{ 1 | who }} {{ 1 | cfg }}") == "play configured"


def test_a_plugin_file_is_imported_once(tmp_path: Path) -> None:
    write(tmp_path, "filter_plugins/counted.py", """
        import builtins
        builtins.orchestr_test_imports = getattr(builtins, "orchestr_test_imports", 0) + 1
        class FilterModule:
            def filters(self):
                return {"counted": lambda v: v}
        """)  # fmt: skip
    import builtins

    before = getattr(builtins, "orchestr_test_imports", 0)
    plugins.for_bases([str(tmp_path)])
    plugins.for_bases([str(tmp_path)])
    assert builtins.orchestr_test_imports == before + 1


def test_a_broken_plugin_file_is_skipped_and_named_when_used(tmp_path: Path) -> None:
    write(tmp_path, "filter_plugins/net.py", """
        import netaddr_is_not_installed
        class FilterModule:
            def filters(self):
                return {"ipwhatever": str}
        """)  # fmt: skip
    write(tmp_path, "filter_plugins/ok.py", FILTERS)
    play = write(tmp_path, "site.yml", """
        - hosts: all
          tasks:
            - debug: msg="{{ x | shout }} {{ x | ipwhatever }}"
        """)  # fmt: skip
    (error,) = errors_of(play)
    assert error.message == "no filter named 'ipwhatever'"
    assert "net.py could not be loaded: ModuleNotFoundError" in error.hint


def test_the_run_uses_the_playbooks_plugins(project: Path) -> None:
    play = write(project, "site.yml", """
        - hosts: localhost
          gather_facts: false
          roles: [web]
          tasks:
            - debug:
                msg: "{{ 'hi' | shout }} {{ 'hi' | ansible.legacy.shout }}"
        """)  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "ORCHESTR_STATE_DIR": str(project / "state")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("orchestr")), "apply", "-i", "localhost,", "--json",
         str(play)], capture_output=True, text=True, env=env, timeout=120, cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    messages = [e["result"]["msg"] for e in events if e.get("event") == "host_result"]
    assert messages == [True, "HI! HI!"]


def test_plugins_import_ansible_names_without_ansible_core(tmp_path: Path) -> None:
    """ansible-core hidden: the stand-ins of ansible_compat serve the plugin's imports."""
    write(tmp_path, "filter_plugins/compat.py", """
        from ansible.errors import AnsibleFilterError
        from ansible.module_utils.six import string_types, iteritems
        from ansible.module_utils.common.text.converters import to_text
        from ansible.module_utils._text import to_native
        from ansible.module_utils.parsing.convert_bool import boolean
        from ansible.utils.display import Display

        def keys(value):
            if not isinstance(value, dict):
                raise AnsibleFilterError("keys wants a dict")
            return [to_text(k) + to_native(boolean(v)) for k, v in iteritems(value)]

        class FilterModule:
            def filters(self):
                return {"keys": keys}
        """)  # fmt: skip
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        from orchestr.playbook import ansible_compat

        class Hide(importlib.abc.MetaPathFinder):
            # As if ansible-core were not installed: only the stand-ins can serve ansible.*
            def find_spec(self, name, path, target=None):
                if name == "ansible" or name.startswith("ansible."):
                    if ansible_compat._FINDER in sys.meta_path:
                        return ansible_compat._FINDER.find_spec(name, path)
                    raise ModuleNotFoundError(name)
                return None

        sys.meta_path.insert(0, Hide())
        assert not ansible_compat.real_ansible()
        from orchestr.playbook import plugins
        from orchestr.playbook.templar import Templar, TemplateError
        plugin_set = plugins.for_bases([{str(tmp_path)!r}])
        assert not plugin_set.problems, plugin_set.problems
        with plugins.active(plugin_set):
            print(Templar({{}}).render("{{{{ {{'a': 'yes'}} | keys }}}}"))
            try:
                Templar({{}}).render("{{{{ 1 | keys }}}}")
            except TemplateError as error:
                print(error.message)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "ANSIBLE_FILTER_PLUGINS": ""})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['aTrue']", "keys wants a dict"]


# --- the load-time name check ------------------------------------------------------------------


def test_unknown_names_are_reported_once_each_with_a_hint(tmp_path: Path) -> None:
    play = write(tmp_path, "site.yml", """
        - hosts: all
          tasks:
            - debug: msg="{{ x | to_jsn }}"
              when: ansible_os_family == 'RedHat'
            - debug: msg="{{ x | to_jsn }}"
            - debug: msg=hi
              when: x is matchh('a')
            - debug: msg="{{ lookup('fiel', 'a.txt') }}"
            - assert:
                that: ["x | boool"]
            - debug: var=x|to_yml
            - debug: msg="{{ x | ansible.legacy.join(',') }}"
            - debug: msg="{{ x | community.general.json_query('a') }}"
            - debug: msg="{{ lookup('password', '/dev/null') }}"
            - debug:
                msg: |
                  first line
                  {{ x | nothere }}
        """)  # fmt: skip
    found = [(e.location.line, e.location.column, e.message, e.hint) for e in errors_of(play)]
    assert found == [
        (3, 14, "no filter named 'to_jsn'", "did you mean 'to_json'?"),
        (5, 14, "no filter named 'to_jsn'", "did you mean 'to_json'?"),
        (7, 13, "no test named 'matchh'", "did you mean 'match'?"),
        (8, 14, "no lookup plugin named 'fiel'", "did you mean 'file'?"),
        (9, 7, "no filter named 'boool'", "did you mean 'bool'?"),
        (11, 7, "no filter named 'to_yml'", "did you mean 'to_yaml'?"),
        (12, 14, "no filter named 'ansible.legacy.join'",
         "'join' is Jinja2's: call it 'join' or 'ansible.builtin.join' (ansible.legacy reaches "
         "Ansible's plugins and filter_plugins/ only)"),
        (13, 14, "no filter named 'community.general.json_query'",
         "orchestr has no filters of the collection community.general"),
        (14, 14, "Ansible's lookup plugin 'password' is not implemented by orchestr", ""),
        (18, 0, "no filter named 'nothere'",
         "orchestr knows Jinja2's and ansible.builtin's filters and those of filter_plugins/ "
         "beside the playbook or in its roles"),
    ]  # fmt: skip


def test_known_names_pass_the_check(project: Path) -> None:
    play = write(project, "site.yml", """
        - hosts: all
          roles: [web]
          tasks:
            - debug:
                msg: >-
                  {{ x | ansible.builtin.combine(y) | ansible.builtin.to_json | shout }}
                  {{ x | ansible.legacy.shout | comment('c') | ansible.builtin.comment }}
                  {{ lookup('ansible.builtin.first_found', 'a') }} {{ q('community.general.flattened', [1]) }}
                  {{ lookup('env', 'HOME') }} {{ query('inventory_hostnames', 'all') }}
                  {{ x | map('ansible.builtin.upper') | select('even_length') | list }}
              when: x is ansible.builtin.match('a') and y is even_length
            - debug: msg="{% raw %}{{ x | not_a_filter }}{% endraw %}"
            - debug: msg=x
              with_first_found: [a.yml, b.yml]
        """)  # fmt: skip
    playbook = load_playbook(str(play))
    assert len(playbook.plays[0].tasks) == 3


def test_plugins_of_a_role_serve_the_whole_playbook(project: Path) -> None:
    """As Ansible: the role's test_plugins/ are known to tasks outside the role (even earlier
    plays), because roles are read before anything runs."""
    play = write(project, "site.yml", """
        - hosts: all
          tasks:
            - debug: msg="{{ 'ab' is even_length }}"
        - hosts: all
          roles: [web]
        """)  # fmt: skip
    load_playbook(str(play))


def test_syntax_check_prints_one_line_per_unknown_name(tmp_path: Path) -> None:
    play = write(tmp_path, "site.yml", """
        - hosts: all
          tasks:
            - debug: msg="{{ x | to_jsn }} {{ x is matchh('a') }}"
        """)  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).with_name("orchestr")), "apply", "--syntax-check", str(play)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 4
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"ERROR: {play}:3:14: no filter named 'to_jsn' (hint: did you mean 'to_json'?)",
        f"ERROR: {play}:3:14: no test named 'matchh' (hint: did you mean 'match'?)",
    ]
