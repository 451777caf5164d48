"""Fast YAML/JSON reading with Ansible's rules: duplicate keys, !unsafe/!vault, file:line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Hashable
from typing import Any

import yaml

from orchestr.errors import Location, ParseError
from orchestr.inventory.values import UnsafeText

# libyaml does the scanning in C; construction stays in Python so our hooks still apply.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _InventoryLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that catches duplicate keys (an error by default; see duplicate_key_policy)."""

    def __init__(self, stream: str, path: str) -> None:
        super().__init__(stream)
        self.path = path
        self.warnings: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Keys written in this mapping; a key merged in with `<<:` may be overridden freely.
        own_keys = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            # Only pay for the duplicate scan when the mapping lost keys.
            self.report_duplicates(own_keys)
        return mapping

    def report_duplicates(self, key_nodes: list[yaml.Node]) -> None:
        seen: set[Any] = set()
        for key_node in key_nodes:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                mark = key_node.start_mark
                where = Location(self.path, mark.line + 1, mark.column + 1)
                policy = duplicate_key_policy()
                if policy == "error":
                    raise ParseError(
                        f"Found duplicate mapping key {key!r}",
                        hint="remove one of them (ANSIBLE_DUPLICATE_YAML_DICT_KEY=warn keeps "
                        "the last, as ansible-core does by default)",
                        location=where,
                    )
                if policy == "warn":
                    self.warnings.append(
                        f"{where}: Found duplicate mapping key {key!r}. "
                        "Using last defined value only."
                    )
            seen.add(key)


def duplicate_key_policy() -> str:
    """A duplicate key is almost always a mistake that silently drops a value, so orchestr
    refuses it unless told otherwise through Ansible's own setting (warn, ignore, error)."""
    value = os.environ.get("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "error").strip().lower()
    return value if value in ("warn", "ignore", "error") else "error"


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SIMPLE_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("int", "bool", "null", "float")
)


def _fast_build(loader: _InventoryLoader, root: yaml.Node) -> Any:
    """Build Python data from the composed node tree directly.

    PyYAML's generic constructor (recursion bookkeeping, generators per mapping) costs about
    as much as libyaml's parsing on a 10,000-host inventory. Plain strings, mappings and
    sequences are built here; every other tag, merge keys and shared (aliased) nodes go
    through the regular constructor so results stay identical.
    """
    built: dict[int, Any] = {}

    def build(node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR and isinstance(node, yaml.ScalarNode):
            return node.value
        known = built.get(id(node))
        if known is not None:
            return known
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            pairs = node.value
            if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in pairs):
                return loader.construct_object(node, deep=True)
            mapping: dict[Any, Any] = {}
            built[id(node)] = mapping
            for key_node, value_node in pairs:
                key = build(key_node)
                try:
                    mapping[key] = build(value_node)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found unhashable key",
                        key_node.start_mark,
                    ) from None
            if len(mapping) != len(pairs):
                loader.report_duplicates([k for k, _ in pairs])
            return mapping
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            built[id(node)] = items
            items.extend(build(child) for child in node.value)
            return items
        if tag in _SIMPLE_SCALARS and isinstance(node, yaml.ScalarNode):
            # Immutable scalars: call the constructor directly, skipping the bookkeeping.
            return loader.yaml_constructors[tag](loader, node)
        value = loader.construct_object(node, deep=True)
        built[id(node)] = value
        return value

    return build(root)


def _construct_unsafe(loader: _InventoryLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return UnsafeText(loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return [_construct_unsafe(loader, child) for child in node.value]
    return {
        loader.construct_object(k, deep=True): _construct_unsafe(loader, v) for k, v in node.value
    }


def _construct_vault(loader: _InventoryLoader, node: yaml.Node) -> Any:
    # Decrypted now with the command's vault passwords (orchestr.vault.loading), or kept as
    # VaultText when the command only shows the inventory.
    from orchestr.vault.loading import inline_value

    mark = node.start_mark
    where = Location(loader.path, mark.line + 1, mark.column + 1)
    return inline_value(loader.construct_scalar(node), where)


_InventoryLoader.add_constructor("!unsafe", _construct_unsafe)
_InventoryLoader.add_constructor("!vault", _construct_vault)
_InventoryLoader.add_constructor("!vault-encrypted", _construct_vault)


def _error_location(path: str, error: yaml.YAMLError) -> Location:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return Location(path)
    return Location(path, mark.line + 1, mark.column + 1)


def load_yaml_text(text: str, path: str) -> tuple[Any, list[str]]:
    """Parse one YAML document; returns (data, warnings); ParseError with file:line on bad YAML."""
    loader = _InventoryLoader(text, path)
    try:
        node = loader.get_single_node()
        data = None if node is None else _fast_build(loader, node)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParseError(
            f"invalid YAML: {problem}",
            hint="check indentation and quoting near that line",
            location=_error_location(path, error),
        ) from None
    except (TypeError, ValueError, RecursionError) as error:
        raise ParseError(f"invalid YAML: {error}", location=Location(path)) from None
    finally:
        loader.dispose()
    return data, loader.warnings


def load_data_text(text: str, path: str) -> tuple[Any, list[str]]:
    """JSON first, then YAML, as Ansible's data loader does for every vars or inventory file."""
    if type(text) is not str:  # decrypted by read_text: every value of the file is a secret
        from orchestr.vault.loading import file_data

        data, warnings = load_data_text(str(text), path)
        return file_data(data, text), warnings
    try:
        return json.loads(text), []
    except ValueError:
        return load_yaml_text(text, path)


def read_text(path: str) -> str:
    """A file's text, or a ParseError naming the file; a vault-encrypted file is decrypted."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
            if text.startswith("$ANSIBLE_VAULT;"):
                from orchestr.vault.loading import decrypt_file_text

                return decrypt_file_text(text, path)
            return text
    except UnicodeDecodeError as error:
        raise ParseError(
            f"file is not valid UTF-8 (byte {error.start})", location=Location(path)
        ) from None
    except OSError as error:
        raise ParseError(
            f"cannot read file: {error.strerror or error}", location=Location(path)
        ) from None


def locate_key(text: str, path: str, keys: list[Any]) -> Location:
    """Line of the mapping key reached by following `keys` from the top; used only on errors."""
    try:
        node = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return Location(path)
    found = node
    for index, wanted in enumerate(keys):
        if not isinstance(found, yaml.MappingNode):
            break
        for key_node, value_node in found.value:
            if isinstance(key_node, yaml.ScalarNode) and _same_key(key_node, wanted):
                found = key_node if index == len(keys) - 1 else value_node
                break
        else:
            break
    if found is None:
        return Location(path)
    return Location(path, found.start_mark.line + 1, found.start_mark.column + 1)


def _same_key(node: yaml.ScalarNode, wanted: Any) -> bool:
    if isinstance(wanted, str):
        return node.value == wanted
    if wanted is None:
        return node.value in ("", "~", "null", "Null", "NULL")
    if isinstance(wanted, bool):
        return node.value.lower() in (("true", "yes", "on") if wanted else ("false", "no", "off"))
    return node.value == str(wanted)
