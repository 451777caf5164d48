"""Our templar against ansible-core itself: many expressions in one generated playbook, run once
per session with the JSON callback, each value compared with ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestr.playbook.templar import OMIT, LayeredVars, Templar, TemplateError

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

VARS: dict[str, Any] = {
    "n": 3,
    "pv_b": "extra",
    "s": "Hello World",
    "words": ["b", "a", "c", "a"],
    "nums": [3, 1, 2],
    "mixed_case": ["a", "A", "b"],
    "d": {"x": 1, "y": {"z": 2}},
    "d2": {"y": {"w": 3}, "q": [1]},
    "users": [
        {"name": "alice", "uid": 1000, "admin": True},
        {"name": "bob", "uid": 1001, "admin": False},
        {"name": "carol", "uid": 1002, "admin": True},
    ],
    "yes_text": "yes",
    "off_text": "Off",
    "path": "/etc/nginx/nginx.conf",
    "nested": [[1, [2]], [3], None, 4],
    "lazy_a": "{{ lazy_b }}-a",
    "lazy_b": "{{ n * 2 }}",
    "ok_result": {"changed": True, "failed": False, "rc": 0},
    "bad_result": {"changed": False, "failed": True, "rc": 1},
    "skip_result": {"changed": False, "skipped": True},
    "loop_result": {"results": [{"changed": False}, {"changed": True}]},
    "version": "2.10.3",
    "groups_like": {"web": ["node1", "node2"], "db": ["node3"]},
    "hostvars_like": {"node1": {"ansible_host": "10.0.0.1"}},
    "json_text": '{"a": [1, 2], "b": null}',
    "yaml_text": "a: 1\nb: [x, y]\n",
    "kv": [{"key": "k1", "value": 1}, {"key": "k2", "value": 2}],
    "empty": "",
    "none_value": None,
    "two_lines": "first\nsecond",
    "ml_text": "a\n\nb\n",
}

# Play vars, below the extra vars (-e @vars.json): lazily templated with whatever wins.
PLAY_VARS: dict[str, Any] = {
    "pv_a": "{{ pv_b }}-x",
    "pv_b": "play",
    "pv_list": "{{ nums | sort }}",
    "n": 100,  # overridden by the extra vars' n
}

# Expressions compared by value with ansible-core. Each one is a debug task's msg "{{ EXPR }}".
EXPRESSIONS: list[str] = [
    "n + 1",
    "s | lower",
    "s | upper",
    "s | replace('World', 'There')",
    "s | regex_replace('o', '0')",
    "s | regex_replace('^(\\\\w+) (\\\\w+)$', '\\\\2 \\\\1')",
    "s | regex_search('W\\\\w+')",
    # Template text as YAML hands it over: single backslashes, kept raw inside {{ }}.
    "s | regex_search('(?P<first>\\w+) (\\w+)', '\\g<first>', '\\2')",
    "s | regex_replace('^(\\w+) (\\w+)$', '\\2 \\1')",
    "s | regex_search('W\\w+')",
    "'a1b22' | regex_findall('\\d+')",
    "'x.y' | regex_replace('\\.', '\\\\')",
    "s | regex_search('nothing')",
    "s | regex_findall('[lo]')",
    "'a.b*c' | regex_escape",
    "words | join(',')",
    "'a,b,,c' | split(',')",
    "'a b  c' | split",
    "words | unique",
    "mixed_case | unique",
    "words | sort",
    "nums | min",
    "nums | max",
    "nums | sum",
    "words | length",
    "words | first",
    "words | last",
    "users | map(attribute='name') | list",
    "users | selectattr('admin') | map(attribute='name') | list",
    "users | selectattr('uid', 'equalto', 1001) | map(attribute='name') | first",
    "users | rejectattr('admin') | map(attribute='uid') | list",
    "words | select('match', 'a') | list",
    "words | reject('search', '^[ab]') | list",
    "nums | map('string') | list",
    "['1', '2'] | map('int') | sum",
    "d | combine(d2)",
    "d | combine(d2, recursive=True)",
    "{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append')",
    "{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp')",
    "{'a': [1, 2]} | combine({'a': [3]}, list_merge='prepend')",
    "{'a': [1, 2]} | combine({'a': [3]}, list_merge='keep')",
    "[d, d2, {'x': 9}] | combine",
    "d | dict2items",
    "kv | items2dict",
    "d | dict2items(key_name='k', value_name='v')",
    "d | to_json",
    "d | to_nice_json",
    "json_text | from_json",
    "d | to_yaml",
    "d | to_nice_yaml",
    "users | to_nice_yaml(indent=2)",
    "yaml_text | from_yaml",
    "s | b64encode",
    "'SGVsbG8gV29ybGQ=' | b64decode",
    "path | basename",
    "path | dirname",
    "path | splitext",
    "s | hash('sha1')",
    "s | hash('md5')",
    "s | hash('sha256')",
    "s | checksum",
    "yes_text | bool",
    "off_text | bool",
    "'1' | bool",
    "0 | bool",
    "'12' | int + 1",
    "'3.5' | float",
    "'x' | int",
    "n | string",
    "nested | flatten",
    "nested | flatten(levels=1)",
    "[1, 2] | zip(['a', 'b'])",
    "[1, 2] | product(['a', 'b']) | list",
    "undefined_thing | default('fallback')",
    "empty | default('fallback')",
    "empty | default('fallback', true)",
    "none_value | default('fallback')",
    "d.missing.deeper | default(7)",
    "d['y']['z']",
    "d.y.z",
    "(n > 2) | ternary('big', 'small')",
    "none_value | ternary('t', 'f', 'n')",
    '"it\'s" | quote',
    "[1, 2, 3] | difference([2]) | sort",
    "[1, 2, 3] | intersect([2, 3, 4]) | sort",
    "[1, 2] | union([2, 3]) | sort",
    "[1, 2] | symmetric_difference([2, 3]) | sort",
    "['x', 'y'] | map('extract', {'x': 1, 'y': 2}) | list",
    "'node1' | extract(hostvars_like, 'ansible_host')",
    "hostvars_like['node1']['ansible_host']",
    "groups_like['web'] | length",
    "'web' in groups_like",
    "lazy_a",
    "lazy_b",
    "lazy_b | int + 1",
    "undefined_thing is defined",
    "undefined_thing is undefined",
    "d is defined",
    "none_value is none",
    "s is string",
    "n is number",
    "d is mapping",
    "words is iterable",
    "words is sequence",
    "s is match('Hel')",
    "s is match('World')",
    "s is search('World')",
    "s is regex('w.rld', ignorecase=True)",
    "ok_result is succeeded",
    "ok_result is success",
    "ok_result is changed",
    "bad_result is failed",
    "bad_result is failure",
    "bad_result is change",
    "skip_result is skipped",
    "ok_result is skip",
    "loop_result is changed",
    "version is version('2.9', '>')",
    "version is version('2.10.3', '==')",
    "version is version('2.10.10', 'lt')",
    "'1.2rc1' is version('1.2', '>')",
    "'1.0.0' is version('1.0', 'ge')",
    "'2.0.0-beta.1' is version('2.0.0', '<', version_type='semver')",
    "'1.2a1' is version('1.2', '<', strict=True)",
    "[1] is subset([1, 2])",
    "[1, 2] is superset([2])",
    "'' is truthy",
    "'x' is truthy",
    "'no' is falsy(convert_bool=True)",
    "2 in nums",
    "'/etc' is directory",
    "'/etc/hostname-does-not-exist' is exists",
    "'/etc/passwd' is file",
    "lookup('env', 'ORACLE_VAR')",
    "lookup('env', 'ORACLE_VAR', 'ORACLE_VAR2')",
    "query('env', 'ORACLE_VAR')",
    "lookup('env', 'ORACLE_UNSET_VAR', default='dflt')",
    "lookup('env', 'ORACLE_VAR', wantlist=True)",
    "q('items', [1, 2], 3)",
    "range(3) | list",
    "users | map(attribute='uid') | max",
    "users | sort(attribute='uid', reverse=True) | map(attribute='name') | list",
    "users | groupby('admin') | map('first') | list",
    "dict(words | zip(nums))",
    "s.split(' ')",
    "s[:5]",
    "'%s-%d' | format('a', 3)",
    "s | truncate(8)",
    "'  x  ' | trim",
    "words | join",
    "[3, 1] | sort | first",
    "nums | map('int') | select('gt', 1) | list",
    "{'b': 1, 'a': 2} | dictsort",
    "d | to_json | from_json == d",
    "'abc' | reverse",
    "[1, [2, 3]] | flatten | length",
    "'a=1' | regex_replace('(\\\\w)=(\\\\d)', '\\\\1:\\\\2')",
    "'%05d' % n",
    "n ~ 'x'",
    "omit is defined",
    "pv_a",
    "pv_list",
    "n",
    # Fully qualified names: ansible.builtin.* for Ansible's and Jinja2's, ansible.legacy.* for
    # Ansible's plugins (filters, tests and lookups alike).
    "d | ansible.builtin.combine(d2, recursive=True)",
    "d | ansible.legacy.combine(d2)",
    "d | ansible.builtin.to_json",
    "d | ansible.builtin.to_nice_yaml(indent=2)",
    "s | ansible.builtin.regex_replace('o', '0')",
    "s | ansible.legacy.regex_search('W\\w+')",
    "words | ansible.builtin.unique | ansible.builtin.sort",
    "words | ansible.builtin.join(',')",
    "nested | ansible.builtin.flatten",
    "kv | ansible.builtin.items2dict",
    "d | ansible.builtin.dict2items",
    "s | ansible.builtin.b64encode | ansible.builtin.b64decode",
    "none_value | ansible.builtin.default('x')",
    "undefined_thing | ansible.builtin.d('y')",
    "undefined_thing | ansible.legacy.default('z')",
    "users | ansible.builtin.selectattr('admin') | ansible.builtin.map(attribute='name') | list",
    "users | ansible.legacy.map(attribute='uid') | ansible.builtin.max",
    "words | select('ansible.builtin.match', 'a') | list",
    "nums | map('ansible.builtin.string') | list",
    "(n > 2) | ansible.builtin.ternary('big', 'small')",
    "yes_text | ansible.builtin.bool",
    "path | ansible.builtin.basename",
    "[1, 2] | ansible.builtin.zip(['a', 'b'])",
    "s | ansible.builtin.hash('sha1')",
    "s is ansible.builtin.match('Hel')",
    "s is ansible.legacy.search('World')",
    "version is ansible.builtin.version('2.9', '>')",
    "version is ansible.legacy.version_compare('2.9', '>')",
    "ok_result is ansible.builtin.succeeded",
    "bad_result is ansible.legacy.failed",
    "d is ansible.builtin.mapping",
    "'a' is ansible.builtin.string",
    "undefined_thing is ansible.builtin.defined",
    "undefined_thing is ansible.legacy.undefined",
    "[1] is ansible.builtin.subset([1, 2])",
    "'x' is ansible.builtin.truthy",
    "lookup('ansible.builtin.env', 'ORACLE_VAR')",
    "query('ansible.legacy.items', [1, 2])",
    "lookup('ansible.builtin.first_found', ['/nonexistent/x', '/etc/hostname'])",
    # comment, in every style and with each option
    "s | comment",
    "two_lines | comment",
    "ml_text | comment",
    "two_lines | comment('erlang')",
    "two_lines | comment('c')",
    "two_lines | comment('cblock')",
    "ml_text | comment('xml')",
    "s | comment('plain', decoration='; ')",
    "s | comment('xml', decoration='*')",
    "s | comment(prefix='#>', postfix='<#')",
    "s | comment(prefix='>', postfix='<', prefix_count=2, postfix_count=3)",
    "s | comment(beginning='BEG', end='END')",
    "two_lines | comment('cblock', beginning='B', end='E', decoration='D ')",
    "two_lines | comment('cblock', beginning='', end='')",
    "two_lines | comment(decoration='')",
    "two_lines | comment('xml', decoration='')",
    "two_lines | comment(prefix='', postfix='')",
    "two_lines | comment(decoration='#', prefix_count=0)",
    "two_lines | comment(prefix='P', prefix_count=0, postfix_count=0, postfix='Q')",
    "two_lines | comment(newline='|')",
    "two_lines | comment(style='c')",
    "'' | comment",
    "s | ansible.builtin.comment('c')",
    "s | ansible.legacy.comment('erlang')",
    # the rest of Ansible's filters and tests
    "1536 | human_readable",
    "1048576 | human_readable(unit='K')",
    "2000 | human_readable(isbits=True)",
    "0 | human_readable",
    "'1.5 GB' | human_to_bytes",
    "'2 Mb' | human_to_bytes(isbits=True)",
    "'10' | human_to_bytes(default_unit='M')",
    "'1 kilobyte' | human_to_bytes",
    "'abc' | to_uuid",
    "('2024-01-02 03:04:05' | to_datetime).year",
    "'%Y-%m-%d' | strftime(86400 * 365, utc=True)",
    "'http://u:p@h:8/p?q=1#f' | urlsplit",
    "'http://h/p' | urlsplit('path')",
    "'a%20b+c' | urldecode",
    "8 | root(3)",
    "2 | pow(3)",
    "100 | log(10)",
    "['/a/b', '/a/c'] | commonpath",
    "'C:/x/y' | win_splitdrive",
    "'/etc/hostnam*' | fileglob",
    "[{'a': {'b': [1, 2]}}] | subelements('a.b')",
    "[{'a': 1}] | subelements('k', skip_missing=True)",
    "users | rekey_on_member('name')",
    "'http://x/y' is url",
    "'x' is url",
    "'urn:isbn:1' is urn",
    "'abc' is uri",
    "[1] is issubset([1, 2])",
    "[1, 2] is issuperset([2])",
    "'x' is nan",
    "{'timedout': {'period': 5}} is timedout",
    "{'started': 1} is started",
    "'/etc/passwd' is same_file('/etc/../etc/passwd')",
    "'/' is mount",
    "'/etc/passwd' is link_exists",
    "'hello' | vault('pw', salt='0123456789abcdef0123456789abcdef')",
    "'hello' | vault('pw', vault_id='dev', salt='s') | unvault('pw')",
    "s is vault_encrypted",
    # lookups
    "lookup('env', 'ORACLE_UNSET_VAR')",
    "lookup('first_found', '/nonexistent/x', skip=True)",
    "query('first_found', {'files': ['nope', 'hostname'], 'paths': ['/nonexistent', '/etc']})",
    "lookup('first_found', files=['/nonexistent/x', '/etc/hostname'])",
    "lookup('random_choice', 'only')",
    "query('lines', 'echo a; echo b')",
    "lookup('pipe', 'echo hi')",
    "query('varnames', '^pv_a$')",
    "query('fileglob', '/etc/hostnam*')",
    "lookup('sequence', 'start=1 end=3')",
    "query('nested', [1, 2], ['a'])",
    "query('together', [1, 2], ['a'])",
    "query('dict', {'a': 1})",
    "query('indexed_items', ['a', 'b'])",
    "query('subelements', [{'n': 1, 'k': [1, 2]}], 'k')",
]

# Templates that are not a single expression: rendered to str by both.
TEMPLATES: list[str] = [
    "n={{ n }} s={{ s }}",
    "{{ words }} and {{ d }}",
    "{% for w in words %}{{ w }}{% endfor %}",
    "{% if n > 1 %}many{% else %}few{% endif %}",
    " {{ n }}",
    "{{ n }} ",
    "{{ none_value }}x",
    "{{ true }}/{{ 1.5 }}",
]

# Expressions Ansible rejects; we must reject them too, with the name in the message.
ERRORS: list[tuple[str, str]] = [
    ("undefined_thing", "'undefined_thing' is undefined"),
    ("undefined_thing | lower", "'undefined_thing' is undefined"),
    ("d.missing", "missing"),
    ("undefined_thing | mandatory", "Mandatory variable 'undefined_thing'"),
    ("undefined_thing | mandatory('custom message')", "custom message"),
    ("words | ansible.legacy.join(',')", "No filter named 'ansible.legacy.join'"),
    ("s | ansible.builtin.nosuchfilter", "No filter named 'ansible.builtin.nosuchfilter'"),
    ("s is ansible.legacy.string", "No test named 'ansible.legacy.string'"),
    ("s | comment('bogus')", "Invalid style 'bogus'"),
    ("s | comment('decoration')", "Invalid style 'decoration'"),
    ("lookup('first_found', '/nonexistent/x')", "No file was found when using first_found"),
    ("lookup('env', 'ORACLE_UNSET_VAR', default=undef())", "ORACLE_UNSET_VAR"),
    ("'1 Kb' | human_to_bytes", "expect KB or K"),
]

ENV = {"ORACLE_VAR": "oracle-value", "ORACLE_VAR2": "second"}

# ansible-core has no JSON stdout callback of its own (it lives in ansible.posix): this small
# callback prints every task result as one JSON document when the play ends.
CALLBACK = """
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "oracle_json"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = []

    def _keep(self, result, failed):
        value = json.loads(json.dumps(result._result, default=str))
        value["failed"] = failed
        self.results.append(value)

    def v2_runner_on_ok(self, result, **kwargs):
        self._keep(result, False)

    def v2_runner_on_failed(self, result, **kwargs):
        self._keep(result, True)

    def v2_playbook_on_stats(self, stats):
        self._display.display(json.dumps(self.results))
"""


def _task(msg: str) -> dict[str, Any]:
    return {"debug": {"msg": msg}, "ignore_errors": True}


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Run every expression through ansible-playbook once; {template: task result}."""
    if not ANSIBLE_PLAYBOOK.exists() and shutil.which("ansible-playbook") is None:
        pytest.skip("ansible-playbook is not installed")
    work = tmp_path_factory.mktemp("oracle")
    templates = [f"{{{{ {expr} }}}}" for expr in EXPRESSIONS]
    templates += TEMPLATES
    templates += [f"{{{{ {expr} }}}}" for expr, _ in ERRORS]
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": PLAY_VARS,
            "tasks": [_task(t) for t in templates],
        }
    ]
    (work / "play.yml").write_text(json.dumps(play))
    (work / "vars.json").write_text(json.dumps(VARS))
    home = work / "home"
    home.mkdir()
    (work / "callbacks").mkdir()
    (work / "callbacks" / "oracle_json.py").write_text(CALLBACK)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANSIBLE_STDOUT_CALLBACK": "oracle_json",
        "ANSIBLE_CALLBACK_PLUGINS": str(work / "callbacks"),
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        **ENV,
    }
    command = [
        str(ANSIBLE_PLAYBOOK) if ANSIBLE_PLAYBOOK.exists() else "ansible-playbook",
        "-i", "localhost,", "-c", "local", "-e", f"@{work / 'vars.json'}", str(work / "play.yml"),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=300)
    try:
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        pytest.fail(f"ansible-playbook gave no JSON (rc {done.returncode}): {done.stderr[-2000:]}")
    assert len(results) == len(templates), done.stderr[-2000:]
    return dict(zip(templates, results, strict=True))


@pytest.fixture()
def templar(monkeypatch: pytest.MonkeyPatch) -> Templar:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORACLE_UNSET_VAR", raising=False)
    return Templar(LayeredVars([PLAY_VARS, VARS]))


def _jsonish(value: Any) -> Any:
    """Our value as it would appear in the JSON callback's output."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_expression_matches_ansible(expr: str, oracle: dict, templar: Templar) -> None:
    template = f"{{{{ {expr} }}}}"
    expected = oracle[template]
    assert not expected.get("failed"), f"ansible failed on {expr}: {expected.get('msg')}"
    ours = templar.render(template)
    if ours is OMIT:  # Ansible's debug shows omit as its placeholder
        pytest.skip("omit")
    assert _jsonish(ours) == expected["msg"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_matches_ansible(template: str, oracle: dict, templar: Templar) -> None:
    expected = oracle[template]
    assert not expected.get("failed"), expected.get("msg")
    assert templar.render(template) == expected["msg"]


@pytest.mark.parametrize(("expr", "needle"), ERRORS)
def test_error_matches_ansible(expr: str, needle: str, oracle: dict, templar: Templar) -> None:
    template = f"{{{{ {expr} }}}}"
    expected = oracle[template]
    assert expected.get("failed"), f"ansible accepted {expr}: {expected.get('msg')!r}"
    assert needle in expected["msg"]
    with pytest.raises(TemplateError) as caught:
        templar.render(template)
    assert needle in caught.value.message
