"""Placement constraints: the syntax each operator is written in, how values compare (as text,
versions in version order, list attributes through their items), missing attributes, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.cluster.constraints import (
    as_text,
    compile_constraint,
    lookup,
    parse_constraint,
    satisfies,
    version_key,
)
from orchestr.cluster.spec_types import Constraint

HOST = {
    "zone": "eu1",
    "inventory_hostname": "web-03.example.com",
    "group_names": ["docker", "web"],
    "ssd": True,
    "rack": 12,
    "empty": None,
    "facts": {"docker_version": "20.10.24", "cpus": 8, "os_id": "ubuntu"},
    "labels.team": "core",  # a flat key spelled with a dot
}


def check(text: str, attributes: dict | None = None) -> bool:
    return satisfies(parse_constraint(text), HOST if attributes is None else attributes)


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "attribute", "op", "value"),
    [
        ("zone == eu1", "zone", "==", "eu1"),
        ("zone != eu1", "zone", "!=", "eu1"),
        ("zone==eu1", "zone", "==", "eu1"),
        ("  zone   ==   eu1  ", "zone", "==", "eu1"),
        ("zone == 'eu 1'", "zone", "==", "eu 1"),
        ('zone == "eu1"', "zone", "==", "eu1"),
        ("zone == ''", "zone", "==", ""),
        ("zone in [eu1, eu2]", "zone", "in", ("eu1", "eu2")),
        ("zone in eu1,eu2,eu3", "zone", "in", ("eu1", "eu2", "eu3")),
        ("zone in eu1", "zone", "in", ("eu1",)),
        ("zone in ['a, b', \"c d\"]", "zone", "in", ("a, b", "c d")),
        ("zone not in [eu3]", "zone", "not_in", ("eu3",)),
        ("zone not   in eu3,eu4", "zone", "not_in", ("eu3", "eu4")),
        ("inventory_hostname =~ ^web-\\d+", "inventory_hostname", "=~", "^web-\\d+"),
        ("facts.os_id !~ '^(alpine|arch)$'", "facts.os_id", "!~", "^(alpine|arch)$"),
        ("gpu exists", "gpu", "exists", None),
        ("gpu missing", "gpu", "missing", None),
        ("facts.docker_version >= 20.10", "facts.docker_version", ">=", "20.10"),
        ("facts.docker_version > 20.10", "facts.docker_version", ">", "20.10"),
        ("facts.docker_version <= 20.10", "facts.docker_version", "<=", "20.10"),
        ("facts.docker_version < 20.10", "facts.docker_version", "<", "20.10"),
        ("group_names contains web", "group_names", "contains", "web"),
        ("node-role == worker", "node-role", "==", "worker"),
    ],
)
def test_parse(text: str, attribute: str, op: str, value: object) -> None:
    constraint = parse_constraint(text)
    assert (constraint.attribute, constraint.op, constraint.value) == (attribute, op, value)
    assert constraint.text == " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty constraint"),
        ("   ", "empty constraint"),
        ("== eu1", "expected an attribute name first"),
        ("zone", "no operator"),
        ("zone = eu1", "unknown operator '='; did you mean 'zone == ...'"),
        ("zone is eu1", "unknown operator 'is'"),
        ("zone ==", "no value after '=='"),
        ("zone in", "no value after 'in'"),
        ("zone not in", "no value after 'not in'"),
        ("gpu exists yes", "'exists' takes no value"),
        ("gpu missing 1", "'missing' takes no value"),
        ("zone == eu 1", "has spaces; quote it"),
        ("zone == 'eu1", "unterminated quote"),
        ("zone == 'eu1' x", "text after the closing quote"),
        ("zone in [eu1, eu2", "no closing ]"),
        ("zone in [eu1,, eu2]", "empty item in list"),
        ("zone in []", "empty item in list"),
        ("zone in ['eu1]", "unterminated quote"),
        ("name =~ (unclosed", "bad regular expression"),
        ("name !~ '[a-'", "bad regular expression"),
        ("facts.docker_version >= ..", "is not a version"),
    ],
)
def test_parse_errors_are_one_line_with_a_hint(text: str, expected: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_constraint(text)
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert ";" in message  # problem; hint


def test_parse_error_quotes_the_constraint() -> None:
    with pytest.raises(ValueError, match=r"constraint 'zone = eu1': "):
        parse_constraint("zone = eu1")


# -- each operator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zone == eu1", True),
        ("zone == EU1", False),  # case-sensitive
        ("zone == eu2", False),
        ("zone != eu2", True),
        ("zone != eu1", False),
        ("zone in [eu2, eu1]", True),
        ("zone in eu2,eu3", False),
        ("zone not in [eu2, eu3]", True),
        ("zone not in [eu1]", False),
        ("inventory_hostname =~ ^web-\\d+", True),
        ("inventory_hostname =~ example", True),  # search, not match
        ("inventory_hostname =~ ^db", False),
        ("inventory_hostname !~ ^db", True),
        ("inventory_hostname !~ web", False),
        ("zone exists", True),
        ("gpu exists", False),
        ("gpu missing", True),
        ("zone missing", False),
        ("empty exists", True),  # present with no value is still present
        ("empty == ''", True),
        ("group_names contains web", True),
        ("group_names contains db", False),
        ("facts.os_id == ubuntu", True),
        ("labels.team == core", True),
    ],
)
def test_operators(text: str, expected: bool) -> None:
    assert check(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("facts.docker_version >= 20.10", True),
        ("facts.docker_version > 20.9", True),  # 10 > 9 as numbers, not as text
        ("facts.docker_version >= 20.10.24", True),
        ("facts.docker_version > 20.10.24", False),
        ("facts.docker_version <= 20.10.24", True),
        ("facts.docker_version < 20.10.25", True),
        ("facts.docker_version < 20.10", False),
        ("facts.docker_version < 24", True),
        ("facts.cpus >= 8", True),  # ints compare through their text, in version order
        ("facts.cpus > 10", False),
        ("facts.cpus >= 4", True),
        ("rack < 100", True),
    ],
)
def test_version_comparisons(text: str, expected: bool) -> None:
    assert check(text) is expected


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("9", "10"),
        ("20.9", "20.10.24"),
        ("20.10", "20.10.1"),  # a prefix sorts first
        ("1.0rc1", "1.0.1"),  # a number beats letters at the same position
        ("1.2.3", "1.10.0"),
        ("v1", "v2"),
        ("alpha", "beta"),
        ("", "0"),
    ],
)
def test_version_order(lower: str, higher: str) -> None:
    assert version_key(lower) < version_key(higher)


def test_version_order_ignores_separators_and_leading_zeros() -> None:
    assert version_key("20.10.24") == version_key("20-10_24")
    assert version_key("1.01") == version_key("1.1")
    assert version_key("RC1") == version_key("rc1")


_PARTS = st.lists(
    st.one_of(st.integers(0, 30).map(str), st.sampled_from(["a", "b", "rc", "beta"])),
    max_size=5,
)
_VERSIONS = _PARTS.map(".".join)


@given(_VERSIONS, _VERSIONS, _VERSIONS)
def test_version_order_is_total_and_transitive(a: str, b: str, c: str) -> None:
    ka, kb, kc = version_key(a), version_key(b), version_key(c)
    assert (ka < kb) + (ka == kb) + (ka > kb) == 1
    if ka <= kb <= kc:
        assert ka <= kc
    if kc:  # the operator agrees with the key
        assert check(f"v <= {c}", {"v": a}) is (ka <= kc)
        assert check(f"v > {c}", {"v": a}) is (ka > kc)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=4))
def test_numeric_versions_compare_as_integer_tuples(parts: list[int]) -> None:
    bumped = [*parts[:-1], parts[-1] + 1]
    text, higher = ".".join(map(str, parts)), ".".join(map(str, bumped))
    assert check(f"v < {higher}", {"v": text})
    assert check(f"v >= {text}", {"v": text})
    assert not check(f"v > {text}", {"v": text})


# -- values as text --------------------------------------------------------------------------


def test_booleans_and_numbers_compare_as_ansible_prints_them() -> None:
    assert check("ssd == true")
    assert not check("ssd == True")
    assert check("ssd != false")
    assert check("rack == 12")
    assert check("rack in [11, 12]")
    assert check("facts.cpus =~ ^8$")
    assert as_text(False) == "false"
    assert as_text(None) == ""
    assert as_text(1.5) == "1.5"


def test_hand_built_constraint_values_are_compared_as_text() -> None:
    assert satisfies(Constraint("rack", "==", 12), HOST)
    assert satisfies(Constraint("ssd", "==", True), HOST)
    assert satisfies(Constraint("rack", "in", [11, 12]), HOST)
    assert satisfies(Constraint("zone", "not_in", "eu2"), HOST)


def test_list_attributes_match_through_any_item() -> None:
    assert check("group_names == web")
    assert check("group_names in [db, web]")
    assert check("group_names =~ ^doc")
    assert not check("group_names != web")  # the negation of "some item is web"
    assert check("group_names != db")
    assert check("group_names not in [db, cache]")
    assert not check("group_names contains web", {"group_names": []})
    assert check("group_names contains web", {"group_names": ("web",)})
    assert check("group_names contains web", {"group_names": "web"})  # a scalar is one item


def test_unknown_operator_on_a_hand_built_constraint() -> None:
    with pytest.raises(ValueError, match="unknown constraint operator '~='"):
        satisfies(Constraint("zone", "~=", "eu1"), HOST)


# -- missing attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpu == yes", False),
        ("gpu in [yes]", False),
        ("gpu =~ .", False),
        ("gpu =~ ^$", False),
        ("gpu >= 0", False),
        ("gpu < 999", False),
        ("gpu contains yes", False),
        ("gpu exists", False),
        ("gpu missing", True),
        # The negative operators pass: as in Swarm, a missing label is "not equal".
        ("gpu != yes", True),
        ("gpu not in [yes]", True),
        ("gpu !~ .", True),
        ("facts.gpu != yes", True),
        ("zone.sub == x", False),  # zone is text, not a mapping
    ],
)
def test_missing_attribute(text: str, expected: bool) -> None:
    assert check(text) is expected


@given(
    st.sampled_from(["==", "!=", "in", "not in", "=~", "!~", "<", "<=", ">", ">=", "contains"]),
    st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True),
)
def test_missing_attribute_fails_every_positive_operator(op: str, value: str) -> None:
    negative = op in ("!=", "not in", "!~")
    assert check(f"absent {op} {value}", {}) is negative


# -- lookup ----------------------------------------------------------------------------------


def test_lookup_paths() -> None:
    assert lookup(HOST, "zone") == (True, "eu1")
    assert lookup(HOST, "facts.cpus") == (True, 8)
    assert lookup(HOST, "labels.team") == (True, "core")
    assert lookup(HOST, "empty") == (True, None)
    assert lookup(HOST, "facts.gpu") == (False, None)
    assert lookup(HOST, "nothing") == (False, None)
    assert lookup({}, "a.b.c") == (False, None)


def test_lookup_prefers_the_longest_key_and_falls_back() -> None:
    attributes = {"a.b": {"c": 1}, "a": {"b": {"c": 2, "d": 3}}}
    assert lookup(attributes, "a.b.c") == (True, 1)
    assert lookup(attributes, "a.b.d") == (True, 3)  # not under "a.b": found through "a"
    assert lookup({"a": {"b.c": 4}}, "a.b.c") == (True, 4)


def test_compiled_constraint_matches_satisfies() -> None:
    for text in ("zone == eu1", "gpu missing", "group_names contains db", "rack >= 10"):
        constraint = parse_constraint(text)
        assert compile_constraint(constraint)(HOST) is satisfies(constraint, HOST)


@given(
    st.dictionaries(
        st.sampled_from(["zone", "rack", "x"]),
        st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none()),
    ),
    st.sampled_from(["zone", "rack", "x"]),
    st.text(alphabet="abc01", min_size=1, max_size=3),
)
def test_negative_operators_are_the_negation_of_positive_ones(
    attributes: dict, attribute: str, value: str
) -> None:
    for positive, negative in (("==", "!="), ("in", "not in"), ("=~", "!~")):
        assert check(f"{attribute} {positive} {value}", attributes) is not check(
            f"{attribute} {negative} {value}", attributes
        )
