"""Parse Ansible INI inventories: sections, :children, :vars, host lines and literal-typed values."""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from orchestr.errors import Location, ParseError
from orchestr.inventory.addresses import AddressError, parse_address
from orchestr.inventory.builder import InventoryBuilder, InventoryRuleError
from orchestr.inventory.ranges import RangeError, expand_host_range, has_range
from orchestr.inventory.values import UnsafeText

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_COMMENT_MARKERS = ("#", ";")


class _LineError(Exception):
    """An error on the current line; turned into ParseError with the file and line."""


def parse_value(text: str) -> Any:
    """Type an INI value as Ansible does: a Python literal when it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _coerce(value: Any) -> Any:
    # Ansible only keeps types a variable can hold: tuples and sets become lists, bytes text,
    # Ellipsis and complex numbers their source-like text.
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_coerce(item) for item in value]
    if isinstance(value, dict):
        return {_coerce(k): _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        # Ansible decodes bytes without marking them trusted, so they print as !unsafe.
        return UnsafeText(value.decode("utf-8", "surrogateescape"))
    return value


def expand_host_entry(entry: str) -> tuple[list[str], int | None]:
    """A host entry (maybe with ranges and :port) to its host names and port."""
    if ":" in entry:
        pattern, port = _split_port(entry)
    else:
        # Without a colon there is no port, and Ansible keeps the text whether or not it
        # validates as an address: skip the costly address regexes (10,000-host inventories).
        pattern, port = entry, None
    names = expand_host_range(pattern) if has_range(pattern) else [pattern]
    return names, port


def _split_port(entry: str) -> tuple[str, int | None]:
    try:
        pattern, port = parse_address(entry, allow_ranges=True)
    except AddressError:
        # Not an address Ansible recognises: the whole text is the name, no port split.
        pattern, port = entry, None
    return pattern, port


def parse_ini(text: str, path: str, builder: InventoryBuilder) -> None:
    """Add the hosts, groups and vars of one INI file to the builder."""
    # The parser reports the line it is on through this one-item list, so errors carry it.
    counter = [0]
    try:
        _parse_lines(text.splitlines(), builder, path, counter)
    except (_LineError, InventoryRuleError, RangeError) as error:
        raise ParseError(
            str(error),
            hint="see Ansible's INI inventory format",
            location=Location(path, counter[0]),
        ) from None


def _parse_lines(
    lines: list[str], builder: InventoryBuilder, path: str, counter: list[int]
) -> None:
    # Like Ansible: the file starts as if under [ungrouped]; declarations may come later than
    # their uses, so unresolved ones wait in `pending` and are checked at the end.
    pending: dict[str, dict[str, Any]] = {}
    group = "ungrouped"
    state = "hosts"
    for number, raw in enumerate(lines, start=1):
        counter[0] = number
        line = raw.strip()
        if not line or line[0] in _COMMENT_MARKERS:
            continue

        section = _SECTION.match(line)
        if section:
            # Ansible 2.19 keeps odd group names (it only warns), INI included.
            group = section.group(1)
            state = section.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise _LineError(f"Section [{section.group(1)}:{state}] has unknown type: {state}")
            if group not in builder.groups:
                # [g] or [g:children] declares a group; [g:vars] alone does not.
                if state == "vars" and group not in pending:
                    pending[group] = {"line": number, "state": state, "name": group}
                builder.add_group(group)
            if group in pending and state != "vars":
                if pending[group]["state"] == "children":
                    _add_pending_children(builder, group, pending)
                elif pending[group]["state"] == "vars":
                    del pending[group]
            continue
        if line.startswith("[") and line.endswith("]"):
            raise _LineError(
                f"Invalid section entry: '{line}'. Please make sure that there are no spaces "
                "in the section entry, and that there are no other invalid characters"
            )

        if state == "hosts":
            names, port, host_vars = _parse_host_line(line)
            for name in names:
                builder.add_host(name, group=group, port=port)
                for key, value in host_vars.items():
                    builder.set_host_var(name, key, value)
        elif state == "vars":
            if "=" not in line:
                raise _LineError(f"Expected key=value, got: {line}")
            key, value = (part.strip() for part in line.split("=", 1))
            builder.set_variable(group, key, parse_value(value))
        else:
            match = _GROUP_NAME.match(line)
            if not match:
                raise _LineError(f"Expected group name, got: {line}")
            child = match.group(1)
            if child not in builder.groups:
                if child not in pending:
                    pending[child] = {
                        "line": number,
                        "state": state,
                        "name": child,
                        "parents": [group],
                    }
                else:
                    pending[child].setdefault("parents", []).append(group)
            else:
                builder.add_child(group, child)

    for declaration in pending.values():
        counter[0] = declaration["line"]
        name = declaration["name"]
        if declaration["state"] == "vars":
            raise _LineError(f"Section [{name}:vars] not valid for undefined group {name!r}.")
        raise _LineError(
            f"Section [{declaration['parents'][-1]}:children] includes undefined group {name!r}."
        )


def _add_pending_children(
    builder: InventoryBuilder, group: str, pending: dict[str, dict[str, Any]]
) -> None:
    for parent in pending[group].get("parents", []):
        builder.add_child(parent, group)
        if parent in pending and pending[parent]["state"] == "children":
            _add_pending_children(builder, parent, pending)
    del pending[group]


def _parse_host_line(line: str) -> tuple[list[str], int | None, dict[str, Any]]:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as error:
        raise _LineError(f"Error parsing host definition '{line}': {error}") from None
    if not tokens:
        raise _LineError(f"Expected a host definition, got: {line}")
    entry = tokens[0]
    names, port = expand_host_entry(entry)
    if entry.strip().endswith(":") and port is None:
        raise _LineError(
            f"Invalid host pattern '{entry}' supplied, ending in ':' is not allowed, this "
            "character is reserved to provide a port."
        )
    if any(name.strip() == "---" for name in names):
        raise _LineError(
            f"Invalid host pattern '{entry}' supplied, '---' is normally a sign this is a YAML file."
        )
    host_vars: dict[str, Any] = {}
    for token in tokens[1:]:
        if "=" not in token:
            raise _LineError(f"Expected key=value host variable assignment, got: {token}")
        key, value = token.split("=", 1)
        host_vars[key] = parse_value(value)
    return names, port, host_vars
