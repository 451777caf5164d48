"""Parse YAML and JSON inventories (all/children/hosts/vars, nested) as Ansible's yaml plugin does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestr.errors import Location, ParseError
from orchestr.inventory.builder import InventoryBuilder, InventoryRuleError
from orchestr.inventory.ini import expand_host_entry
from orchestr.inventory.ranges import RangeError
from orchestr.inventory.yaml_loader import load_data_text, locate_key

_SECTIONS = ("vars", "children", "hosts")


class YamlStructureError(Exception):
    """The document is not a YAML inventory at all (so another format may be tried)."""

    def __init__(self, error: ParseError) -> None:
        super().__init__(error.message)
        self.error = error


class _Problem(Exception):
    def __init__(self, message: str, keys: list[Any], hint: str = "") -> None:
        super().__init__(message)
        self.keys = keys
        self.hint = hint


def parse_yaml(text: str, path: str, builder: InventoryBuilder) -> None:
    """Add one YAML/JSON inventory document to the builder; errors carry file:line."""
    try:
        data, warnings = load_data_text(text, path)
    except ParseError as error:
        raise YamlStructureError(error) from None
    for warning in warnings:
        builder.warn(warning)
    if not data:
        raise YamlStructureError(ParseError("Parsed empty YAML file", location=_loc(path)))
    if not isinstance(data, Mapping):
        raise YamlStructureError(
            ParseError(
                "YAML inventory has invalid structure, it should be a dictionary, got: "
                f"{type(data).__name__}",
                location=_loc(path, 1),
            )
        )
    if data.get("plugin"):
        raise YamlStructureError(
            ParseError(
                "Plugin configuration YAML file, not YAML inventory",
                hint="inventory plugins are not supported by orchestr; export the inventory "
                "with `ansible-inventory --list -y` and use that file",
                location=locate_key(text, path, ["plugin"]),
            )
        )
    try:
        for name, group_data in data.items():
            _parse_group(builder, name, group_data, [name])
    except _Problem as problem:
        raise ParseError(
            str(problem), hint=problem.hint, location=locate_key(text, path, problem.keys)
        ) from None


def _loc(path: str, line: int = 0) -> Location:
    return Location(path, line)


def _parse_group(builder: InventoryBuilder, name: Any, data: Any, keys: list[Any]) -> Any:
    if not (data is None or isinstance(data, Mapping)):
        builder.warn(f"Skipping '{name}' as this is not a valid group definition")
        return name
    try:
        group = builder.add_group(name)
    except InventoryRuleError as error:
        raise _Problem(f"Unable to add group {name}: {error}", keys) from None
    if data is None:
        return group

    sections: dict[Any, Any] = dict(data)
    for section in _SECTIONS:
        if section in sections:
            # A bare string is accepted as a one-entry mapping.
            if isinstance(sections[section], str):
                sections[section] = {sections[section]: None}
            if not (sections[section] is None or isinstance(sections[section], Mapping)):
                raise _Problem(
                    f'Invalid "{section}" entry for "{group}" group, requires a dictionary, '
                    f'found "{type(sections[section]).__name__}" instead.',
                    [*keys, section],
                )

    for key, value in sections.items():
        if not (value is None or isinstance(value, Mapping)):
            builder.warn(
                f"Skipping key ({key}) in group ({group}) as it is not a mapping, it is a "
                f"{type(value).__name__}"
            )
            continue
        if value is None:
            continue
        if key == "vars":
            for var, var_value in value.items():
                try:
                    builder.set_group_var(group, var, var_value)
                except InventoryRuleError as error:
                    raise _Problem(str(error), [*keys, key, var]) from None
        elif key == "children":
            for child, child_data in value.items():
                child_name = _parse_group(builder, child, child_data, [*keys, key, child])
                try:
                    builder.add_child(group, child_name)
                except InventoryRuleError as error:
                    raise _Problem(str(error), [*keys, key, child]) from None
        elif key == "hosts":
            for entry, host_vars in value.items():
                _add_hosts(builder, group, entry, host_vars, [*keys, key, entry])
        else:
            builder.warn(
                f"Skipping unexpected key ({key}) in group ({group}), only "
                '"vars", "children" and "hosts" are valid'
            )
    return group


def _add_hosts(
    builder: InventoryBuilder, group: str, entry: Any, host_vars: Any, keys: list[Any]
) -> None:
    if not isinstance(entry, str):
        raise _Problem(
            f"Host pattern {entry} must be a string. Enclose integers/floats in quotation marks.",
            keys,
        )
    try:
        names, port = expand_host_entry(entry)
    except RangeError as error:
        raise _Problem(str(error), keys) from None
    host_vars = host_vars or {}
    if not isinstance(host_vars, Mapping):
        raise _Problem(
            f"Invalid data from file, expected dictionary and got: {host_vars!r}",
            keys,
            hint="host variables must be a mapping of name: value",
        )
    try:
        for name in names:
            builder.add_host(name, group=group, port=port)
            for var, value in host_vars.items():
                builder.set_host_var(name, var, value)
    except InventoryRuleError as error:
        raise _Problem(str(error), keys) from None
