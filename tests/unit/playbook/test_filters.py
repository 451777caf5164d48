"""Filters and tests, table-driven with expected values (each also checkable by hand against
Ansible's documentation; a large subset is compared with ansible-core in test_templar_oracle)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.playbook import filters
from orchestr.playbook.templar import Templar, TemplateError

VARS: dict[str, Any] = {
    "s": "Hello World",
    "words": ["b", "a", "c", "a"],
    "nums": [3, 1, 2],
    "d": {"x": 1, "y": {"z": 2}},
    "users": [
        {"name": "alice", "uid": 1000, "admin": True},
        {"name": "bob", "uid": 1001, "admin": False},
    ],
    "ok": {"changed": False, "failed": False},
    "bad": {"changed": True, "failed": True},
    "skip": {"skipped": True, "changed": False},
}

FILTER_CASES: list[tuple[str, Any]] = [
    ("s | lower", "hello world"),
    ("s | upper", "HELLO WORLD"),
    ("s | replace('l', 'L', 1)", "HeLlo World"),
    ("s | regex_replace('(?i)WORLD', 'There')", "Hello There"),
    ("s | regex_replace('o', '0', count=1)", "Hell0 World"),
    ("s | regex_replace('(\\w+) (\\w+)', '\\2 \\1')", "World Hello"),
    ("s | regex_search('o\\s?W')", "o W"),
    ("s | regex_search('(\\w)o', '\\1')", ["H" if False else "l"]),
    ("s | regex_findall('o.')", ["o ", "or"]),
    ("'a.b' | regex_escape", "a\\.b"),
    ("'a.b' | regex_escape('posix_basic')", "a\\.b"),
    ("'a,b' | split(',')", ["a", "b"]),
    ("'a b' | split", ["a", "b"]),
    ("words | join('-')", "b-a-c-a"),
    ("words | unique", ["b", "a", "c"]),
    ("['a', 'A'] | unique", ["a"]),
    ("['a', 'A'] | unique(case_sensitive=True)", ["a", "A"]),
    ("words | sort", ["a", "a", "b", "c"]),
    ("nums | min", 1),
    ("nums | max", 3),
    ("words | length", 4),
    ("words | first", "b"),
    ("words | last", "a"),
    ("users | map(attribute='name') | list", ["alice", "bob"]),
    ("users | selectattr('admin') | map(attribute='name') | list", ["alice"]),
    ("users | selectattr('uid', 'equalto', 1001) | map(attribute='name') | list", ["bob"]),
    ("users | rejectattr('admin') | map(attribute='uid') | list", [1001]),
    ("words | select('match', '[ab]') | list", ["b", "a", "a"]),
    ("words | reject('search', 'a') | list", ["b", "c"]),
    ("d | combine({'x': 2})", {"x": 2, "y": {"z": 2}}),
    ("d | combine({'y': {'w': 1}})", {"x": 1, "y": {"w": 1}}),
    ("d | combine({'y': {'w': 1}}, recursive=True)", {"x": 1, "y": {"z": 2, "w": 1}}),
    ("{'l': [1]} | combine({'l': [2]}, list_merge='append')", {"l": [1, 2]}),
    ("{'l': [1]} | combine({'l': [2]}, list_merge='prepend')", {"l": [2, 1]}),
    ("{'l': [1, 2]} | combine({'l': [2]}, list_merge='append_rp')", {"l": [1, 2]}),
    ("{'l': [1, 2]} | combine({'l': [2, 3]}, list_merge='prepend_rp')", {"l": [2, 3, 1]}),
    ("{'l': [1]} | combine({'l': [2]}, list_merge='keep')", {"l": [1]}),
    ("[{'a': 1}, {'b': 2}] | combine", {"a": 1, "b": 2}),
    ("{'a': 1} | dict2items", [{"key": "a", "value": 1}]),
    ("[{'key': 'a', 'value': 1}] | items2dict", {"a": 1}),
    ("[{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v')", {"a": 1}),
    ("d | to_json", '{"x": 1, "y": {"z": 2}}'),
    ("{'b': 1, 'a': [1]} | to_nice_json", '{\n    "a": [\n        1\n    ],\n    "b": 1\n}'),
    ("'{\"a\": [1, null]}' | from_json", {"a": [1, None]}),
    ("d | to_yaml", "x: 1\ny: {z: 2}\n"),
    ("{'a': [1, 2]} | to_nice_yaml", "a:\n- 1\n- 2\n"),
    ("'a: [1, 2]' | from_yaml", {"a": [1, 2]}),
    ("'a: 1\n---\nb: 2' | from_yaml_all", [{"a": 1}, {"b": 2}]),
    ("'héllo' | b64encode", "aMOpbGxv"),
    ("'aMOpbGxv' | b64decode", "héllo"),
    ("'/a/b/c.txt' | basename", "c.txt"),
    ("'/a/b/c.txt' | dirname", "/a/b"),
    ("'/a/b/c.tar.gz' | splitext", ["/a/b/c.tar", ".gz"]),
    ("'~' | expanduser == '" + os.path.expanduser("~") + "'", True),
    ("'/a/./b/../c' | realpath", os.path.realpath("/a/./b/../c")),
    ("['a', 'b'] | path_join", "a/b"),
    ("'abc' | hash('md5')", "900150983cd24fb0d6963f7d28e17f72"),
    ("'abc' | hash('sha1')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("'abc' | hash", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
        "'abc' | hash('sha256')",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    ("'abc' | checksum", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("'yes' | bool", True),
    ("'On' | bool", True),
    ("'false' | bool", False),
    ("'0' | bool", False),
    ("1 | bool", True),
    ("none | bool", False),
    ("'nonsense' | bool", False),
    ("'42' | int", 42),
    ("'x' | int", 0),
    ("'x' | int(7)", 7),
    ("'0x1A' | int(base=16)", 26),
    ("'2.5' | float", 2.5),
    ("5 | string", "5"),
    ("[[1, [2]], 3, none] | flatten", [1, 2, 3]),
    ("[[1, [2]], 3] | flatten(levels=1)", [1, [2], 3]),
    ("[1, 2] | zip(['a', 'b'])", [[1, "a"], [2, "b"]]),
    ("[1] | zip_longest([2, 3], fillvalue=0)", [[1, 2], [0, 3]]),
    ("[1, 2] | product(['a'])", [[1, "a"], [2, "a"]]),
    ("[1, 2, 3] | difference([2])", [1, 3]),
    ("[3, 1, 2] | intersect([2, 3])", [3, 2]),
    ("[1, 2] | union([2, 3])", [1, 2, 3]),
    ("[1, 2] | symmetric_difference([2, 3])", [1, 3]),
    ("[{'a': 1}] | union([{'a': 1}, {'b': 2}])", [{"a": 1}, {"b": 2}]),  # unhashable items
    ("true | ternary('y', 'n')", "y"),
    ("0 | ternary('y', 'n')", "n"),
    ("none | ternary('y', 'n', 'null')", "null"),
    ('"it\'s here" | quote', "'it'\"'\"'s here'"),
    ("none | quote", "''"),
    ("'x' | mandatory", "x"),
    ("'x' | extract({'x': 5})", 5),
    ("'a' | extract({'a': {'b': 7}}, 'b')", 7),
    ("['a'] | map('extract', {'a': 1}) | list", [1]),
    ("[5] | random", 5),
    ("1 | random", 0),
    ("[1] | shuffle", [1]),
    ("1 | type_debug", "int"),
    ("undefined_x | default(5)", 5),
    ("'' | default('e', true)", "e"),
]


@pytest.mark.parametrize(("expr", "expected"), FILTER_CASES)
def test_filter(expr: str, expected: Any) -> None:
    assert Templar(VARS).render("{{ " + expr + " }}") == expected


TEST_CASES: list[tuple[str, bool]] = [
    ("x is defined", False),
    ("s is defined", True),
    ("x is undefined", True),
    ("none is none", True),
    ("s is string", True),
    ("3 is string", False),
    ("3 is number", True),
    ("d is mapping", True),
    ("words is mapping", False),
    ("words is iterable", True),
    ("words is sequence", True),
    ("s is match('Hel')", True),
    ("s is match('World')", False),
    ("s is search('World')", True),
    ("s is search('world', ignorecase=True)", True),
    ("s is regex('^H.*d$')", True),
    ("s is regex('world', match_type='match')", False),
    ("ok is succeeded", True),
    ("ok is success", True),
    ("ok is successful", True),
    ("ok is failed", False),
    ("bad is failed", True),
    ("bad is failure", True),
    ("bad is changed", True),
    ("bad is change", True),
    ("ok is changed", False),
    ("{'results': [{'changed': false}, {'changed': true}]} is changed", True),
    ("skip is skipped", True),
    ("skip is skip", True),
    ("ok is skipped", False),
    ("{'unreachable': true} is unreachable", True),
    ("ok is reachable", True),
    ("'1.10' is version('1.9', '>')", True),
    ("'1.10' is version('1.9', 'lt')", False),
    ("'2.0' is version('2.0')", True),
    ("'2.0' is version('2.0.0', '<')", True),  # LooseVersion: [2, 0] < [2, 0, 0]
    ("'1.2.3' is version('1.2.3', '>=')", True),
    ("'1.2.3' is version('1.2.4', '!=')", True),
    ("'1.2.3' is version('1.2.4', '<>')", True),
    ("'1.2rc1' is version('1.2', 'gt')", True),
    ("'1.0a1' is version('1.0', '<', strict=True)", True),
    ("'1.0' is version('1.0.0', '==', strict=True)", True),
    ("'1.0.0-alpha' is version('1.0.0', 'lt', version_type='semver')", True),
    ("'1.0.0-alpha.1' is version('1.0.0-alpha.beta', 'lt', version_type='semver')", True),
    ("'1.0.0+build' is version('1.0.0', 'eq', version_type='semver')", True),
    ("[1] is subset([1, 2])", True),
    ("[3] is subset([1, 2])", False),
    ("[1, 2] is superset([1])", True),
    ("[{'a': 1}] is subset([{'a': 1}])", True),
    ("'' is truthy", False),
    ("'false' is truthy", True),
    ("'false' is truthy(convert_bool=True)", False),
    ("0 is falsy", True),
    ("'yes' is falsy(convert_bool=True)", False),
    ("2 in nums", True),
    ("'a' in 'abc'", True),
    ("nums is contains(3)", True),
    ("[true, false] is any", True),
    ("[true, false] is all", False),
    ("'/' is directory", True),
    ("'/' is file", False),
    ("'/' is exists", True),
    ("'/definitely/not/here' is exists", False),
    ("'/' is abs", True),
    ("'rel' is abs", False),
    ("{'finished': 0} is finished", False),
]


@pytest.mark.parametrize(("expr", "expected"), TEST_CASES)
def test_test(expr: str, expected: bool) -> None:
    assert Templar(VARS).evaluate(expr) is expected


def test_path_tests_on_files(tmp_path: Any) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    (tmp_path / "l").symlink_to(target)
    templar = Templar({"f": str(target), "l": str(tmp_path / "l"), "dir": str(tmp_path)})
    assert templar.truth(["f is file", "dir is directory", "l is link", "f is exists"])
    assert not templar.truth(["f is directory"])


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("'x' | regex_replace('x', 'y', mandatory_count=2)", "should match 2 times"),
        ("'x' | regex_search('x', 'bad')", "Unknown argument"),
        ("'x' | regex_escape('posix_extended')", "not yet implemented"),
        ("ok | combine({}, foo=1)", "only valid keyword arguments"),
        ("ok | combine({}, list_merge='zip')", "'list_merge' argument"),
        ("'x' | dict2items", "dict2items requires a dictionary"),
        ("'x' | items2dict", "items2dict requires a list"),
        ("[1] | items2dict", "list of dictionaries"),
        ("[{'a': 1}] | items2dict", "keys 'key' and 'value'"),
        ("'x' | hash('nope')", "unsupported hash type"),
        ("'a' is failed", "The 'failed' test expects a dictionary"),
        ("'' is version('1')", "Input version value cannot be empty"),
        ("'1' is version('1', 'approx')", "Invalid operator type"),
        ("'1.a' is version('1.1', '<')", "Version comparison failed"),
        ("'1' is version('2', strict=True)", "invalid version number"),
        ("'1' is version('2', version_type='x')", "Invalid version type"),
        ("'{' | from_json", "Expecting"),
        ("42 | path_join", "path_join expects string or sequence"),
    ],
)
def test_filter_errors(expr: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Templar(VARS).render("{{ " + expr + " }}")


def test_loose_version_components() -> None:
    assert filters.loose_version("1.2rc1") == [1, 2, "rc", 1]
    assert filters.loose_version("2.10.3") == [2, 10, 3]
    assert filters.loose_version("v1-beta") == ["v", 1, "-", "beta"]


# Control characters (NEL...) are left out: PyYAML turns some of them into line breaks.
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=10)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_json_round_trip(value: Any) -> None:
    assert filters.from_json(filters.to_json(value)) == value
    assert filters.from_json(filters.to_nice_json(value)) == value


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_yaml_round_trip(value: Any) -> None:
    assert filters.from_yaml(filters.to_yaml(value)) == value
    assert filters.from_yaml(filters.to_nice_yaml(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_b64_round_trip(text: str) -> None:
    assert filters.b64decode(filters.b64encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=8), st.lists(st.integers(0, 5), max_size=8))
def test_set_filters_agree_with_sets(a: list[int], b: list[int]) -> None:
    assert set(filters.union(a, b)) == set(a) | set(b)
    assert set(filters.intersect(a, b)) == set(a) & set(b)
    assert set(filters.difference(a, b)) == set(a) - set(b)
    assert set(filters.symmetric_difference(a, b)) == set(a) ^ set(b)
    assert len(filters.union(a, b)) == len(set(a) | set(b))
