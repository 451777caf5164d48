"""YAML documents kept as node trees, so every key and value can say where it was written.

libyaml composes the nodes (fast); the inventory's builder turns a value node into Python data
with Ansible's rules (!unsafe, !vault, duplicate keys) only where the loader needs data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from orchestr.errors import Location, ParseError
from orchestr.inventory.yaml_loader import _error_location, _fast_build, _InventoryLoader, read_text

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
Node = yaml.Node
Mapping = yaml.MappingNode
Sequence = yaml.SequenceNode
Scalar = yaml.ScalarNode


@dataclass
class Document:
    """One YAML file: its path, its root node (None when empty) and the loader that builds data."""

    path: str
    root: Node | None
    loader: Any = field(repr=False, default=None)
    encrypted: bool = False  # a vault-encrypted file: its values are secrets (orchestr.vault)

    def where(self, node: Node | None) -> Location:
        if node is None:
            return Location(self.path)
        mark = node.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)

    def data(self, node: Node | None) -> Any:
        """The Python value of a node (raises ParseError on a duplicate key inside it)."""
        if node is None:
            return None
        if self.encrypted:
            from orchestr.vault.secret import secret_data

            return secret_data(Document(self.path, self.root, self.loader).data(node))
        if node.tag == STR and isinstance(node, Scalar):
            return node.value
        return _fast_build(self.loader, node)


def load_document(path: str) -> Document:
    """Read and compose one YAML file; ParseError naming file:line:column when it is not YAML."""
    text = read_text(path)
    loader = _InventoryLoader(str(text), path)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParseError(
            f"invalid YAML: {problem}",
            hint="check indentation and quoting near that line",
            location=_error_location(path, error),
        ) from None
    return Document(path, root, loader, encrypted=type(text) is not str)


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, Scalar) and node.tag == NULL)


def is_str(node: Node | None) -> bool:
    return isinstance(node, Scalar) and node.tag == STR
