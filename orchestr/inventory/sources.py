"""Read inventory sources of every kind (file, directory, 'h1,h2,' list) into one builder."""

from __future__ import annotations

import os
import re

from orchestr.errors import Location, ParseError
from orchestr.inventory.addresses import AddressError, parse_address
from orchestr.inventory.builder import InventoryBuilder
from orchestr.inventory.ini import parse_ini
from orchestr.inventory.yaml_loader import read_text
from orchestr.inventory.yaml_source import YamlStructureError, parse_yaml

# Entries of an inventory directory Ansible skips: hidden, vars dirs, and its ignored extensions.
_IGNORED_EXTENSIONS = (
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
)  # fmt: skip
_IGNORED = re.compile(
    "|".join(
        [r"^\.", "^host_vars$", "^group_vars$", "^vars_plugins$"]
        + [re.escape(ext) + "$" for ext in _IGNORED_EXTENSIONS]
    )
)
_YAML_EXTENSIONS = ("", ".yaml", ".yml", ".json")


def is_host_list(source: str) -> bool:
    """A '-i h1,h2,' argument rather than a path."""
    return "," in source and not os.path.exists(source)


def normalize_source(source: str) -> str:
    """Absolute path for a path source (as Ansible resolves -i); host lists stay as given."""
    if "," in source:
        return source
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(source))))


def read_source(source: str, builder: InventoryBuilder) -> None:
    """Add one -i source to the builder; a missing path is an error (Ansible only warns)."""
    if is_host_list(source):
        _read_host_list(source, builder)
    elif os.path.isdir(source):
        # Directory entries in name order; sub-directories recurse, as Ansible does.
        for entry in sorted(os.listdir(source)):
            if not _IGNORED.search(entry):
                read_source(os.path.join(source, entry), builder)
    elif os.path.exists(source):
        _read_file(source, builder)
    else:
        raise ParseError(
            "inventory source not found",
            hint="pass an existing file or directory, or a comma-separated host list",
            location=Location(source),
        )


def _read_host_list(source: str, builder: InventoryBuilder) -> None:
    for item in source.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            host, port = parse_address(item, allow_ranges=False)
        except AddressError:
            # Ranges are not expanded in host lists: the text is the host name.
            host, port = item, None
        if host not in builder.hosts:
            builder.add_host(host, group="ungrouped", port=port)


def _read_file(path: str, builder: InventoryBuilder) -> None:
    text = read_text(path)
    extension = os.path.splitext(path)[1]
    builder.current_source = path
    try:
        if extension == ".toml":
            raise ParseError(
                "TOML inventories are not supported",
                hint="convert it with `ansible-inventory -i FILE --list -y`",
                location=Location(path),
            )
        if text.startswith("#!") and os.access(path, os.X_OK):
            raise ParseError(
                "dynamic inventory scripts are not supported",
                hint="save its output with `ansible-inventory -i SCRIPT --list` and use that",
                location=Location(path, 1),
            )
        # Ansible tries its yaml plugin, then ini, keeping the first that succeeds.
        yaml_error: ParseError | None = None
        if extension in _YAML_EXTENSIONS:
            try:
                parse_yaml(text, path, builder)
                return
            except YamlStructureError as error:
                yaml_error = error.error
        try:
            parse_ini(text, path, builder)
        except ParseError as ini_error:
            # Report what the operator most likely meant: YAML for YAML/JSON names.
            if yaml_error is not None and extension:
                raise yaml_error from None
            raise ini_error from None
    finally:
        builder.current_source = None
