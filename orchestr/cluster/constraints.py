"""Placement constraints: read `ATTR OP VALUE` text into a Constraint and test it against a host's
attributes. Pure: no I/O.

Syntax (whitespace-separated; a value may be quoted with ' or ", quotes do not escape anything):

    zone == eu1                   zone != eu1
    zone in [eu1, eu2]            zone in eu1,eu2             zone not in [eu3]
    inventory_hostname =~ ^web    facts.os_id !~ '^(alpine|arch)$'
    gpu exists                    gpu missing
    facts.docker_version >= 20.10 (also < <= >: version order, see `version_key`)
    group_names contains web

How values compare:
- Both sides compare as text, the way Ansible prints them: booleans as "true"/"false", numbers via
  str(), None as "". Comparison is case-sensitive.
- A list attribute (group_names) matches a positive operator (==, in, =~, <..>=, contains) when
  any of its items does; `contains` is the explicit spelling of that.
- The negative operators (!=, not in, !~) are exactly "not the positive one", so a missing
  attribute passes them, as Swarm treats a missing label as not-equal. Every other operator except
  `missing` fails on a missing attribute.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from orchestr.cluster.spec_types import Constraint

_ATTRIBUTE = re.compile(r"\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)")
# Longer spellings first, so "<=" is not read as "<" followed by "=".
_OPERATOR = re.compile(
    r"\s*(==|!=|=~|!~|<=|>=|<|>|not\s+in\b|not_in\b|in\b|contains\b|exists\b|missing\b)"
)
_KNOWN_OPS = "==, !=, in, not in, =~, !~, <, <=, >, >=, contains, exists, missing"
_UNARY = frozenset({"exists", "missing"})
_LISTS = frozenset({"in", "not_in"})
_REGEXES = frozenset({"=~", "!~"})
_VERSIONS = frozenset({"<", "<=", ">", ">="})
_QUOTES = "'\""


def parse_constraint(text: str) -> Constraint:
    """`ATTR OP VALUE` as a Constraint; ValueError with a one-line message and a hint otherwise."""
    source = " ".join(text.split())  # one line in messages and in Constraint.text
    if not source:
        raise ValueError("empty constraint; write ATTR OP VALUE, e.g. 'zone == eu1'")
    attribute_match = _ATTRIBUTE.match(source)
    if attribute_match is None:
        raise _error(source, "expected an attribute name first", "e.g. 'zone == eu1'")
    attribute = attribute_match.group(1)
    rest = source[attribute_match.end() :]
    op_match = _OPERATOR.match(rest)
    if op_match is None:
        found = rest.split()[0] if rest.strip() else ""
        problem = f"unknown operator {found!r}" if found else "no operator"
        hint = f"use one of {_KNOWN_OPS}"
        if found.startswith("=") and not found.startswith(("==", "=~")):
            hint = f"did you mean '{attribute} == ...'? ({hint})"
        raise _error(source, problem, hint)
    op = "not_in" if op_match.group(1).startswith("not") else op_match.group(1)
    raw = rest[op_match.end() :].strip()

    if op in _UNARY:
        if raw:
            raise _error(source, f"{op!r} takes no value", f"write '{attribute} {op}'")
        return Constraint(attribute, op, None, source)
    if not raw:
        raise _error(source, f"no value after {_spelling(op)!r}", f"e.g. '{attribute} == eu1'")
    if op in _LISTS:
        value: Any = _parse_list(source, raw)
    else:
        value = _unquote(source, raw)
    if op in _REGEXES:
        try:
            re.compile(value)
        except re.error as error:
            raise _error(
                source, f"bad regular expression: {error}", "Python re syntax, searched anywhere"
            ) from None
    if op in _VERSIONS and not version_key(value):
        raise _error(source, f"{value!r} is not a version", "compare with e.g. '20.10'")
    return Constraint(attribute, op, value, source)


def satisfies(constraint: Constraint, attributes: Mapping[str, Any]) -> bool:
    """Whether a host with these attributes meets the constraint (see the module doc)."""
    return compile_constraint(constraint)(attributes)


def compile_constraint(constraint: Constraint) -> Callable[[Mapping[str, Any]], bool]:
    """The constraint as a test of a host's attributes, with its value prepared once (regex
    compiled, version parsed): for checking one constraint against many hosts."""
    op = constraint.op
    attribute = constraint.attribute
    if op in ("exists", "missing"):
        find = _finder(attribute)
        if op == "exists":
            return lambda attributes: find(attributes) is not _MISSING
        return lambda attributes: find(attributes) is _MISSING
    positive_op = _NEGATIONS.get(op, op)
    make = _TESTS.get(positive_op)
    if make is None:
        raise ValueError(f"unknown constraint operator {op!r}; use one of {_KNOWN_OPS}")
    positive = _any_item(attribute, make(constraint.value))
    if positive_op != op:
        return lambda attributes: not positive(attributes)
    return positive


def lookup(attributes: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path. A flat key spelled with dots ("facts.cpus") and nested
    mappings ({"facts": {"cpus": 4}}) both work; the longest key that exists wins at each level."""
    value = _finder(dotted)(attributes)
    return (False, None) if value is _MISSING else (True, value)


_MISSING: Any = object()


@functools.lru_cache(maxsize=1024)
def _finder(dotted: str) -> Callable[[Mapping[str, Any]], Any]:
    """A lookup of one path with its ways of splitting worked out once (hosts x constraints
    lookups per placement): the value, or _MISSING."""
    # Longest prefix first, so "a.b" as a key beats "a" -> "b".
    cuts = [cut for cut, char in enumerate(dotted) if char == "." and cut > 0]
    splits = [(dotted[:cut], _finder(dotted[cut + 1 :])) for cut in reversed(cuts)]

    def find(attributes: Mapping[str, Any]) -> Any:
        value = attributes.get(dotted, _MISSING)
        if value is not _MISSING or not splits:
            return value
        for head, find_rest in splits:
            inner = attributes.get(head)
            if isinstance(inner, dict | Mapping):  # dict first: the fast check
                value = find_rest(inner)
                if value is not _MISSING:
                    return value
        return _MISSING

    return find


def as_text(value: Any) -> str:
    """A value as Ansible would print it in a comparison: true/false, numbers via str, None as ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


@functools.lru_cache(maxsize=4096)
def version_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """An order for version-like text: runs of digits and of letters, compared part by part.

    Digit runs compare as integers ("10" > "9", "20.10.24" > "20.9"); letter runs compare
    case-insensitively; a digit run sorts after a letter run at the same position ("1.0.1" >
    "1.0rc1"); a version that is a prefix of another sorts first ("20.10" < "20.10.1"). Other
    characters only separate parts. The order is total; "01" and "1" are equal in it."""
    parts: list[tuple[int, int, str]] = []
    for run in re.findall(r"\d+|[^\W\d_]+", text):
        parts.append((1, int(run), "") if run.isdigit() else (0, 0, run.casefold()))
    return tuple(parts)


# -- matching --------------------------------------------------------------------------------

_Test = Callable[[str], bool]


def _any_item(attribute: str, test: _Test) -> Callable[[Mapping[str, Any]], bool]:
    """A positive operator: fails on a missing attribute; a list attribute matches when any of
    its items does; anything else is one item."""

    find = _finder(attribute)

    def check(attributes: Mapping[str, Any]) -> bool:
        value = find(attributes)
        if value is _MISSING:
            return False
        if isinstance(value, str):
            return test(value)
        if isinstance(value, list | tuple | set | frozenset):
            return any(test(as_text(item)) for item in value)
        return test(as_text(value))

    return check


def _equal(expected: Any) -> _Test:
    return as_text(expected).__eq__


def _member(expected: Any) -> _Test:
    values = expected if isinstance(expected, list | tuple | set | frozenset) else (expected,)
    return frozenset(as_text(value) for value in values).__contains__


def _search(expected: Any) -> _Test:
    pattern = expected if isinstance(expected, re.Pattern) else re.compile(as_text(expected))
    return lambda text: pattern.search(text) is not None


def _version(compare: Callable[[Any, Any], bool]) -> Callable[[Any], _Test]:
    def make(expected: Any) -> _Test:
        bound = version_key(as_text(expected))
        return lambda text: compare(version_key(text), bound)

    return make


# Operator -> a maker of the test for one item, given the constraint's value.
_TESTS: dict[str, Callable[[Any], _Test]] = {
    "==": _equal,
    "contains": _equal,  # applied to each item of a list attribute, like every positive op
    "in": _member,
    "=~": _search,
    "<": _version(operator.lt),
    "<=": _version(operator.le),
    ">": _version(operator.gt),
    ">=": _version(operator.ge),
}
# The negative operators are exactly "not the positive one" (so a missing attribute passes).
_NEGATIONS = {"!=": "==", "not_in": "in", "!~": "=~"}


# -- parsing helpers -------------------------------------------------------------------------


def _error(source: str, problem: str, hint: str) -> ValueError:
    return ValueError(f"constraint {source!r}: {problem}; {hint}")


def _spelling(op: str) -> str:
    return "not in" if op == "not_in" else op


def _unquote(source: str, raw: str) -> str:
    """One value: quoted (kept verbatim, no escapes) or a single word."""
    if raw[0] in _QUOTES:
        close = raw.find(raw[0], 1)
        if close < 0:
            raise _error(source, "unterminated quote", f"close it with {raw[0]}")
        if close != len(raw) - 1:
            raise _error(source, "text after the closing quote", "quote the whole value")
        return raw[1:close]
    if any(char.isspace() for char in raw):
        raise _error(source, f"value {raw!r} has spaces", f"quote it: '{raw}' or \"{raw}\"")
    return raw


def _parse_list(source: str, raw: str) -> tuple[str, ...]:
    """`[a, b, 'c d']` or `a,b,c`: items split on commas outside quotes."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise _error(source, "list has no closing ]", "write e.g. 'zone in [eu1, eu2]'")
        raw = raw[1:-1]
    items: list[str] = []
    current: list[str] = []
    quote = ""
    for char in raw:
        if quote:
            quote = "" if char == quote else quote
        elif char in _QUOTES:
            quote = char
        elif char == ",":
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote:
        raise _error(source, "unterminated quote", f"close it with {quote}")
    items.append("".join(current))
    values = []
    for item in items:
        item = item.strip()
        if not item:
            raise _error(source, "empty item in list", "write e.g. 'zone in [eu1, eu2]'")
        values.append(_unquote(source, item))
    return tuple(values)
