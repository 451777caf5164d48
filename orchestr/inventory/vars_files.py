"""Find and read group_vars/ and host_vars/ files beside inventory sources and the playbook."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestr.errors import Location, ParseError
from orchestr.inventory.yaml_loader import load_data_text, read_text

# Ansible's YAML_FILENAME_EXTENSIONS, with the bare name tried first so a directory wins.
_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def vars_base_for_source(source: str) -> str | None:
    """Directory whose group_vars/host_vars apply to an inventory source (None for host lists)."""
    if "," in source and not os.path.exists(source):
        return None
    directory = source if os.path.isdir(source) else os.path.dirname(source)
    return os.path.realpath(os.path.abspath(directory or os.getcwd()))


def find_vars_files(directory: str, name: str) -> list[str]:
    """Files for one host/group: NAME, NAME.yml, NAME.yaml or NAME.json (first found), or a
    directory NAME/ read recursively in lexical order."""
    base = os.path.join(directory, name)
    for extension in _EXTENSIONS:
        candidate = base + extension
        if os.path.exists(candidate):
            if os.path.isdir(candidate):
                return _files_in_dir(candidate)
            return [candidate]
    return []


def _files_in_dir(directory: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.listdir(directory)):
        # Hidden files and editor backups are skipped, as Ansible does.
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full = os.path.join(directory, entry)
        extension = os.path.splitext(entry)[1]
        if os.path.isdir(full) and not extension:
            found.extend(_files_in_dir(full))
        elif os.path.isfile(full) and (not extension or extension in _EXTENSIONS):
            found.append(full)
    return found


@dataclass
class VarsFileReader:
    """Reads each vars file once per load; owned by one load, so there is no shared state."""

    warnings: list[str] = field(default_factory=list)
    _files: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)
    # Directory listings of each group_vars/host_vars dir (None when absent): one listdir
    # instead of four stat calls per host keeps 10,000-host inventories fast.
    _listings: dict[str, frozenset[str] | None] = field(default_factory=dict)
    _merged: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def _listing(self, path: str) -> frozenset[str] | None:
        if path not in self._listings:
            listing = None
            if os.path.isdir(path):
                listing = frozenset(os.listdir(path))
            elif os.path.exists(path):
                self.warnings.append(
                    f"Found {os.path.basename(path)} that is not a directory, skipping: {path}"
                )
            self._listings[path] = listing
        return self._listings[path]

    def entity_vars(self, base: str, kind: str, name: str) -> dict[str, Any]:
        """Merged vars of one host ('host_vars') or group ('group_vars') under one base dir."""
        # Names starting with '/' (chroot-style hosts) are never looked up, as in Ansible.
        if not name or name.startswith(os.sep):
            return {}
        key = (base, kind, name)
        cached = self._merged.get(key)
        if cached is not None:
            return cached
        directory = base + os.sep + kind
        listing = self._listing(directory)
        merged: dict[str, Any] = {}
        if listing and any(name + ext in listing for ext in _EXTENSIONS):
            for path in find_vars_files(directory, name):
                data = self._load(path)
                if data:
                    merged.update(data)
        self._merged[key] = merged
        return merged

    def _load(self, path: str) -> Mapping[str, Any] | None:
        if path in self._files:
            return self._files[path]
        data, warnings = load_data_text(read_text(path), path)
        self.warnings.extend(warnings)
        if data and not isinstance(data, Mapping):
            raise ParseError(
                f"vars file must hold a mapping of variables, got {type(data).__name__}",
                hint="write `name: value` lines at the top level",
                location=Location(path, 1),
            )
        self._files[path] = data or None
        return self._files[path]
