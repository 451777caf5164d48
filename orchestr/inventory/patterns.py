"""Ansible host patterns: unions, :& intersections, :! exclusions, globs, ~regex, subscripts, @files."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterable

from orchestr.errors import OrchestrError
from orchestr.inventory.addresses import AddressError, parse_address
from orchestr.inventory.model import Host, Inventory, Selection

LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")

_SUBSCRIPTED = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
# The legacy ':' separator: runs of anything but whitespace, ':' and brackets, or whole
# bracketed expressions (so web[1:3] stays one piece).
_COLON_SPLIT = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


class PatternError(OrchestrError):
    """A host pattern Ansible rejects (bad regex, subscript out of range, missing @file)."""


def split_patterns(pattern: str) -> list[str]:
    """'a,b' or 'a:b' to ['a', 'b'], keeping IPv6 addresses and host ranges whole."""
    if "," in pattern:
        parts = pattern.split(",")
    else:
        try:
            parse_address(pattern, allow_ranges=True)
            parts = [pattern]
        except AddressError:
            parts = _COLON_SPLIT.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def order_patterns(patterns: Iterable[str]) -> list[str]:
    """Unions first, then intersections (&), then exclusions (!); 'all' if only & or !."""
    regular, intersect, exclude = [], [], []
    for pattern in patterns:
        if not pattern:
            continue
        if pattern[0] == "!":
            exclude.append(pattern)
        elif pattern[0] == "&":
            intersect.append(pattern)
        else:
            regular.append(pattern)
    return (regular or ["all"]) + intersect + exclude


class _Matcher:
    """Evaluates patterns against one inventory; caches per call, never across calls."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.warnings: list[str] = []
        self._cache: dict[str, list[Host]] = {}
        self._implicit: Host | None = None

    def evaluate(self, patterns: list[str]) -> list[Host]:
        hosts: list[Host] = []
        for pattern in order_patterns(patterns):
            if pattern in self.inventory.hosts:
                # A plain host name is taken as that host even if a group has the same name.
                hosts.append(self.inventory.hosts[pattern])
                continue
            matched = self.match_one(pattern)
            if pattern[0] == "!":
                excluded = {h.name for h in matched}
                hosts = [h for h in hosts if h.name not in excluded]
            elif pattern[0] == "&":
                kept = {h.name for h in matched}
                hosts = [h for h in hosts if h.name in kept]
            else:
                present = {h.name for h in hosts}
                hosts.extend(h for h in matched if h.name not in present)
        return hosts

    def match_one(self, pattern: str) -> list[Host]:
        if pattern[0] in "&!":
            pattern = pattern[1:]
        if pattern not in self._cache:
            expression, subscript = _split_subscript(pattern)
            hosts = self._enumerate(expression)
            if hosts and subscript is not None:
                start, end = subscript
                try:
                    if end:
                        if end == -1:
                            end = len(hosts) - 1
                        hosts = hosts[start : end + 1]
                    else:
                        hosts = [hosts[start]]
                except IndexError:
                    raise PatternError(
                        f"No hosts matched the subscripted pattern '{pattern}'"
                    ) from None
            self._cache[pattern] = hosts
        return self._cache[pattern]

    def _enumerate(self, pattern: str) -> list[Host]:
        inventory = self.inventory
        regex = _compile(pattern)
        results: list[Host] = []
        matching_groups = [g for g in inventory.groups if regex.match(g)]
        for group in matching_groups:
            results.extend(inventory.group_hosts(group))
        # Hosts are searched when no group matched, or when the pattern could match several.
        if not matching_groups or pattern[0] == "~" or any(c in pattern for c in ".?*["):
            results.extend(host for name, host in inventory.hosts.items() if regex.match(name))
        if not results and pattern in LOCALHOST_NAMES and inventory.implicit_localhost:
            if self._implicit is None:
                self._implicit = dataclasses.replace(inventory.implicit_localhost, name=pattern)
            results.append(self._implicit)
        if not results and not matching_groups and pattern != "all":
            self.warnings.append(f"Could not match supplied host pattern, ignoring: {pattern}")
        return results


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        if pattern[0] == "~":
            return re.compile(pattern[1:])
        return re.compile(fnmatch.translate(pattern))
    except re.error:
        raise PatternError(f"Invalid host list pattern: {pattern}") from None


def _split_subscript(pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    if pattern[0] == "~":
        return pattern, None
    match = _SUBSCRIPTED.match(pattern)
    if not match:
        return pattern, None
    expression, index, start, _separator, end = match.groups()
    if index:
        return expression, (int(index), None)
    return expression, (int(start), int(end) if end else -1)


def read_limit(limit: str) -> list[str]:
    """A --limit value to patterns; '@file' entries are replaced by the file's lines."""
    patterns: list[str] = []
    for item in split_patterns(limit):
        if item[0] != "@":
            patterns.append(item)
            continue
        path = item[1:]
        if not os.path.exists(path):
            raise PatternError(f"Unable to find limit file {path}")
        if not os.path.isfile(path):
            raise PatternError(f'Limit starting with "@" must be a file, not a directory: {path}')
        with open(path, encoding="utf-8") as handle:
            patterns.extend(line.strip() for line in handle.read().split("\n"))
    return patterns


def select_hosts(inventory: Inventory, pattern: str, limit: str | None = None) -> Selection:
    """Hosts of a play pattern restricted by --limit, deduplicated, in Ansible's order."""
    matcher = _Matcher(inventory)
    hosts = matcher.evaluate(split_patterns(pattern))
    if limit is not None:
        allowed = {h.name for h in matcher.evaluate(read_limit(limit))}
        hosts = [h for h in hosts if h.name in allowed]
    seen: set[str] = set()
    unique = [h for h in hosts if not (h.name in seen or seen.add(h.name))]
    return Selection(unique, tuple(dict.fromkeys(matcher.warnings)))
