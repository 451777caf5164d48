"""The templar: lazy layered variables, native single expressions, undefined handling, omit,
conditionals, lookups and template files."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.inventory.values import UnsafeText
from orchestr.playbook import templar as templar_module
from orchestr.playbook.templar import (
    OMIT,
    LayeredVars,
    RenderedLayer,
    Templar,
    TemplateError,
    is_template,
    template_syntax_errors,
)

# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ items }}", [1, 2, 3]),
        ("{{items}}", [1, 2, 3]),
        ("{{ count }}", 5),
        ("{{ count + 1 }}", 6),
        ("{{ '5' }}", "5"),  # a str stays a str: no literal_eval
        ("{{ flag }}", True),
        ("{{ nothing }}", None),
        ("count={{ count }}", "count=5"),
        ("{{ count }}{{ count }}", "55"),
        (" {{ count }}", " 5"),  # text around the expression makes it a str, as Ansible 2.19
        ("{{ items }} more", "[1, 2, 3] more"),
        ("{{ nothing }}x", "x"),
        ("line\n{{ count }}\n\n", "line\n5\n\n"),  # trailing newlines kept
        ("{% if flag %}{{ items }}{% endif %}", [1, 2, 3]),
        ("{# comment #}", None),
        ("plain text", "plain text"),
        ("", ""),
        (42, 42),
        (None, None),
        ({"a": "{{ count }}", "b": ["{{ flag }}", "x"]}, {"a": 5, "b": [True, "x"]}),
        (("{{ count }}",), (5,)),
        ({"{{ name }}": 1}, {"web": 1}),
    ],
)
def test_render(value: Any, expected: Any) -> None:
    templar = Templar(
        {"items": [1, 2, 3], "count": 5, "flag": True, "nothing": None, "name": "web"}
    )
    assert templar.render(value) == expected
    assert type(templar.render(value)) is type(expected)


def test_plain_strings_never_reach_jinja(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(source: str) -> None:
        raise AssertionError(f"Jinja used for {source!r}")

    monkeypatch.setattr(templar_module, "_compile_template", boom)
    templar = Templar({"x": 1})
    value = {"cmd": "echo {hello} } {", "args": ["a", "b"], "n": 3}
    assert templar.render(value) is value  # not even copied
    assert templar.render("a { b } c") == "a { b } c"


def test_compiled_templates_are_cached() -> None:
    templar = Templar({"x": 1})
    templar.render("{{ x }} cached?")
    before = templar_module._compile_template.cache_info().hits
    templar.render("{{ x }} cached?")
    assert templar_module._compile_template.cache_info().hits == before + 1


def test_unsafe_text_is_never_templated() -> None:
    raw = UnsafeText("{{ lookup('env', 'HOME') }}")
    templar = Templar({"secret": raw, "via": "{{ secret }}"})
    assert templar.render(raw) is raw
    assert templar.render("{{ secret }}") == raw
    assert templar.render("{{ via }}") == raw
    assert not is_template(raw)


def test_rendered_layer_is_not_templated_again() -> None:
    variables = LayeredVars([{"b": 2}, RenderedLayer({"out": "{{ b }}"})])
    assert Templar(variables).render("{{ out }}") == "{{ b }}"


# --- lazy precedence ---------------------------------------------------------------------------


def test_lower_layer_template_sees_the_higher_layer_value() -> None:
    inventory = {"a": "{{ b }}", "b": "inventory"}
    play_vars = {"b": "play"}
    extra = {"b": "extra"}
    assert Templar(LayeredVars([inventory])).render("{{ a }}") == "inventory"
    assert Templar(LayeredVars([inventory, play_vars])).render("{{ a }}") == "play"
    assert Templar(LayeredVars([inventory, play_vars, extra])).render("{{ a }}") == "extra"


def test_child_layers_share_and_override() -> None:
    base = LayeredVars([{"greeting": "hello {{ who }}", "who": "world"}])
    child = base.child({"who": "loop item"})
    assert Templar(child).render("{{ greeting }}") == "hello loop item"
    assert Templar(base).render("{{ greeting }}") == "hello world"
    assert child.layers[0] is base.layers[0]
    templar = Templar(base).child({"who": "task"})
    assert templar.render("{{ greeting }}") == "hello task"


def test_layers_are_read_live() -> None:
    registered: dict[str, Any] = {}
    templar = Templar(LayeredVars([{"x": 1}, registered]))
    assert templar.evaluate("result is undefined")
    registered["result"] = {"changed": True, "failed": False}
    assert templar.evaluate("result is changed")


def test_mapping_interface() -> None:
    variables = LayeredVars([{"a": 1, "b": "{{ a + 1 }}"}, {"a": 10}])
    assert variables["b"] == 11
    assert variables.raw("b") == "{{ a + 1 }}"
    assert sorted(variables) == ["a", "b"]
    assert len(variables) == 2
    assert "a" in variables and "z" not in variables
    with pytest.raises(KeyError):
        variables["z"]
    assert dict(variables.items()) == {"a": 10, "b": 11}


def test_recursion_is_reported() -> None:
    templar = Templar({"a": "{{ b }}", "b": "{{ a }}", "me": "{{ me | default(1) }}"})
    with pytest.raises(TemplateError, match="recursive loop detected in template string"):
        templar.render("{{ a }}")
    with pytest.raises(TemplateError, match="recursive loop detected"):
        templar.render("{{ me }}")


def test_deep_template_values_are_rendered_on_read() -> None:
    templar = Templar({"port": 80, "svc": {"url": "http://x:{{ port }}", "ports": ["{{ port }}"]}})
    assert templar.render("{{ svc.url }}") == "http://x:80"
    assert templar.render("{{ svc.ports[0] + 1 }}") == 81


# --- undefined ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ foo }}", "'foo' is undefined"),
        ("x {{ foo }} y", "'foo' is undefined"),
        ("{{ foo | lower }}", "'foo' is undefined"),
        ("{{ foo.bar }}", "'foo' is undefined"),
        ("{{ via }}", "'missing' is undefined"),  # the name inside the referenced var
        ("{{ d.nope }}", "object of type 'dict' has no attribute 'nope'"),
        ("{{ d['nope'] }}", "has no attribute 'nope'"),
        ("{{ foo | mandatory }}", "Mandatory variable 'foo' not defined."),
        ("{{ foo | mandatory('set foo') }}", "set foo"),
        ("{{ [1] | nonexistent_filter }}", "nonexistent_filter"),
        ("{{ 1 + }}", "template error while templating string"),
        ("{{ lookup('nope', 'x') }}", "lookup plugin (nope) not found"),
    ],
)
def test_errors(template: str, message: str) -> None:
    templar = Templar({"via": "{{ missing }}", "d": {"k": 1}})
    with pytest.raises(TemplateError) as caught:
        templar.render(template)
    assert message in caught.value.message
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ foo | default('d') }}", "d"),
        ("{{ foo.bar.baz | default('d') }}", "d"),
        ("{{ d.nope | default(3) }}", 3),
        ("{{ via | default('d') }}", "d"),  # a var whose template is undefined counts as undefined
        ("{{ foo is defined }}", False),
        ("{{ foo is undefined }}", True),
        ("{{ via is defined }}", False),
        ("{{ d.k is defined }}", True),
        ("{{ d.nope is defined }}", False),
        ("{{ foo | d('short') }}", "short"),
    ],
)
def test_undefined_allowed(template: str, expected: Any) -> None:
    templar = Templar({"via": "{{ missing }}", "d": {"k": 1}})
    assert templar.render(template) == expected


def test_omit() -> None:
    templar = Templar({"x": 1})
    assert templar.render("{{ nope | default(omit) }}") is OMIT
    assert templar.render("{{ omit }}") is OMIT
    rendered = templar.render(
        {"a": "{{ nope | default(omit) }}", "b": "{{ x }}", "l": ["{{ omit }}", 1]}
    )
    assert rendered == {"b": 1, "l": [1]}
    assert repr(OMIT) == "OMIT"


# --- magic variables as the runner provides them ------------------------------------------------


class LazyHostvars(Mapping[str, Any]):
    """A lazy host -> variables mapping as the runner may give (counts what was built)."""

    def __init__(self, hosts: dict[str, dict[str, Any]]):
        self.hosts = hosts
        self.built: list[str] = []

    def __getitem__(self, host: str) -> Any:
        self.built.append(host)
        return LayeredVars([self.hosts[host]])

    def __iter__(self) -> Iterator[str]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)


def test_magic_variables() -> None:
    hostvars = LazyHostvars(
        {
            "node1": {"ansible_host": "10.0.0.1", "role": "{{ inventory_hostname }}-web"},
            "node2": {"ansible_host": "10.0.0.2"},
        }
    )
    magic = {
        "hostvars": hostvars,
        "groups": {"all": ["node1", "node2"], "web": ["node1"]},
        "group_names": ["web"],
        "inventory_hostname": "node1",
        "ansible_play_hosts": ["node1", "node2"],
    }
    templar = Templar(LayeredVars([magic]), check_mode=True)
    assert templar.render("{{ hostvars['node1']['ansible_host'] }}") == "10.0.0.1"
    assert hostvars.built == ["node1"]
    assert templar.render("{{ hostvars.node2.ansible_host }}") == "10.0.0.2"
    assert templar.render("{{ groups['web'] | length }}") == 1
    assert templar.render("{{ groups.all | map('extract', hostvars, 'ansible_host') | list }}") == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    assert templar.evaluate("'web' in group_names")
    assert templar.render("{{ ansible_check_mode }}") is True
    assert Templar({}).render("{{ ansible_check_mode }}") is False
    assert Templar({"ansible_check_mode": True}).render("{{ ansible_check_mode }}") is True
    assert templar.render("{{ vars['inventory_hostname'] }}") == "node1"


# --- conditionals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("x == 1", True),
        ("x == 2", False),
        ("x is defined and x > 0", True),
        ("nope is defined", False),
        ("nope is undefined or nope", True),
        ("result is failed", False),
        ("result is succeeded", True),
        ("result is changed", True),
        ("'web' in groups", True),
        ("'db' not in groups", True),
        ("yes_text", True),
        ("no_text", False),
        ("'false'", False),
        ("'True'", True),
        ("empty_list", False),
        ("[1]", True),
        ("{{ x == 1 }}", True),
        ("{{ no_text }}", False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("  x == 1  ", True),
        ("x == 1\n", True),
        ("path == 'C:\\new'", True),  # no backslash pre-escaping in conditionals
    ],
)
def test_truth(condition: Any, expected: bool) -> None:
    templar = Templar(
        {
            "x": 1,
            "result": {"failed": False, "changed": True, "rc": 0},
            "groups": {"web": ["a"]},
            "yes_text": "yes",
            "no_text": "no",
            "empty_list": [],
            "path": "C:\new",
        }
    )
    assert templar.truth([condition]) is expected


def test_evaluate_values_and_lists() -> None:
    templar = Templar({"x": 3, "l": [1, 2]})
    assert templar.evaluate("x * 2") == 6
    assert templar.evaluate("l | length") == 2
    assert templar.evaluate("{{ l }}") == [1, 2]
    assert templar.truth(["x > 1", "l | length == 2"]) is True
    assert templar.truth(["x > 1", "x > 5"]) is False
    assert templar.truth([]) is True


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("undefined_var", "'undefined_var' is undefined"),
        ("undefined_var == 1", "'undefined_var' is undefined"),
        ("x ==", "syntax error in conditional"),
        ("x == 1 }}", "syntax error in conditional"),
    ],
)
def test_truth_errors(condition: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Templar({"x": 1}).truth([condition])


# --- syntax checks for the loader ---------------------------------------------------------------


def test_template_syntax_errors() -> None:
    assert template_syntax_errors({"a": "{{ x }}", "b": ["{% if x %}y{% endif %}", 3]}) == []
    problems = template_syntax_errors({"a": ["ok", "{{ x }"], "b": {"c": "{% if %}"}, "d": 1})
    assert len(problems) == 2
    assert all("template error while templating string" in p for p in problems)
    assert template_syntax_errors("{{ undefined_is_fine_here }}") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ x }}", True),
        ("a {% if %}", True),
        ("{# c #}", True),
        ("{ x }", False),
        ("plain", False),
        ("", False),
        (3, False),
    ],
)
def test_is_template(text: Any, expected: bool) -> None:
    assert is_template(text) is expected


# --- template files and lookups ----------------------------------------------------------------


def test_render_file_text_settings() -> None:
    templar = Templar({"names": ["a", "b"], "title": "T", "nothing": None})
    text = "# {{ title }}\n{% for n in names %}\n  - {{ n }}\n{% endfor %}\nend\n"
    # trim_blocks: the newline after a block tag is dropped; lstrip_blocks off; final \n kept
    assert templar.render_file_text(text) == "# T\n  - a\n  - b\nend\n"
    assert templar.render_file_text("no template\n") == "no template\n"
    assert templar.render_file_text("{{ names }}") == "['a', 'b']"
    # backslashes in template files are Jinja's usual escapes
    assert templar.render_file_text("{{ 'a\\tb' }}") == "a\tb"


def test_lookups(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "files" / "motd.txt").write_text("hello\n\n")
    (tmp_path / "templates" / "conf.j2").write_text("port={{ port }}\n")
    (tmp_path / "templates" / "outer.j2").write_text("[{% include 'conf.j2' %}]")
    monkeypatch.setenv("TEMPLAR_A", "one")
    monkeypatch.setenv("TEMPLAR_B", "two")
    monkeypatch.delenv("TEMPLAR_UNSET", raising=False)
    templar = Templar({"port": 8080}, search_paths=[str(tmp_path)])
    assert templar.render("{{ lookup('file', 'motd.txt') }}") == "hello"
    assert templar.render("{{ lookup('file', '" + str(tmp_path / "files/motd.txt") + "') }}") == (
        "hello"
    )
    assert templar.render("{{ lookup('template', 'conf.j2') }}") == "port=8080\n"
    assert (
        templar.render("{{ lookup('template', 'outer.j2') }}") == "[port=8080]"
    )  # an include loses its final newline, as in Ansible
    assert templar.render("{{ lookup('env', 'TEMPLAR_A') }}") == "one"
    assert templar.render("{{ lookup('env', 'TEMPLAR_A', 'TEMPLAR_B') }}") == "one,two"
    assert templar.render("{{ query('env', 'TEMPLAR_A', 'TEMPLAR_B') }}") == ["one", "two"]
    assert templar.render("{{ q('env', 'TEMPLAR_A') }}") == ["one"]
    assert templar.render("{{ lookup('env', 'TEMPLAR_A', wantlist=True) }}") == ["one"]
    # Ansible 2.19: an unset variable is '' unless `default` says otherwise (undef(): undefined)
    assert templar.render("{{ lookup('env', 'TEMPLAR_UNSET') }}") == ""
    assert templar.render("{{ lookup('env', 'TEMPLAR_UNSET') | default('dflt', true) }}") == "dflt"
    assert templar.render("{{ lookup('env', 'TEMPLAR_UNSET', default='') }}") == ""
    assert templar.render("{{ lookup('ansible.builtin.env', 'TEMPLAR_B') }}") == "two"
    assert templar.render("{{ lookup('file', 'nope.txt', errors='ignore') }}") is None
    with pytest.raises(TemplateError, match="cannot find the file 'nope.txt'"):
        templar.render("{{ lookup('file', 'nope.txt') }}")
    with pytest.raises(TemplateError, match="TEMPLAR_UNSET"):
        templar.render("{{ lookup('env', 'TEMPLAR_UNSET', default=undef()) }}")
    # a lazily templated variable keeps the templar's search paths
    child = templar.child({"motd": "{{ lookup('file', 'motd.txt') | upper }}"})
    assert child.render("{{ motd }}") == "HELLO"


# --- properties --------------------------------------------------------------------------------

_plain_text = st.text(alphabet=st.characters(blacklist_characters="{"), max_size=20)
_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _plain_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_plain_text, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_json_like)
def test_render_without_markers_is_identity(value: Any) -> None:
    assert Templar({"x": 1}).render(value) == value


@settings(max_examples=200, deadline=None)
@given(_json_like)
def test_variables_round_trip_through_a_single_expression(value: Any) -> None:
    templar = Templar({"v": value})
    assert templar.render("{{ v }}") == value
    assert templar.render("{{ v | to_json | from_json }}") == json.loads(json.dumps(value))


def test_big_containers_are_scanned_once_and_still_rendered() -> None:
    facts = {f"k{i}": {"v": i} for i in range(100)}
    config = {f"k{i}": i for i in range(100)} | {"url": "http://{{ host }}"}
    templar = Templar({"facts": facts, "config": config, "host": "h1"})
    for _ in range(3):
        assert templar.render("{{ facts.k7.v }}") == 7
        assert templar.render("{{ config.url }}") == "http://h1"
    assert templar.child({"host": "h2"}).render("{{ config.url }}") == "http://h2"
