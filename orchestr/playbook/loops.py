"""The items of `with_<lookup>:` loops, as Ansible's lookups yield them (pure)."""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any


class LoopError(ValueError):
    """The loop's terms do not fit its lookup."""


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def loop_items(lookup: str, terms: Any, base_dir: str = "") -> list[Any]:
    if lookup == "items":
        # with_items flattens one level: [[1, 2], 3] -> [1, 2, 3]
        flat: list[Any] = []
        for term in _as_list(terms):
            flat.extend(term if isinstance(term, list | tuple) else [term])
        return flat
    if lookup == "list":
        return _as_list(terms)
    if lookup == "dict":
        if not isinstance(terms, Mapping):
            raise LoopError(f"with_dict expects a dict, got {type(terms).__name__}")
        return [{"key": k, "value": v} for k, v in terms.items()]
    if lookup == "indexed_items":
        return [[index, item] for index, item in enumerate(loop_items("items", terms))]
    if lookup == "nested":
        lists = [_as_list(term) for term in _as_list(terms)]
        return [list(combo) for combo in itertools.product(*lists)]
    if lookup == "together":
        lists = [_as_list(term) for term in _as_list(terms)]
        return [list(combo) for combo in itertools.zip_longest(*lists)]
    if lookup == "sequence":
        return sequence_items(terms)
    if lookup == "fileglob":
        found: list[str] = []
        for pattern in _as_list(terms):
            path = pattern if os.path.isabs(pattern) else os.path.join(base_dir, "files", pattern)
            found.extend(sorted(p for p in glob.glob(path) if os.path.isfile(p)))
        return found
    if lookup == "subelements":
        items, key = _as_list(terms)[0], _as_list(terms)[1]
        return [[item, sub] for item in _as_list(items) for sub in _as_list(item.get(key, []))]
    raise LoopError(f"with_{lookup} is not supported")


def sequence_items(terms: Any) -> list[str]:
    """with_sequence: "start=1 end=5 stride=1 format=web%02d", or "count=3"; strings, as Ansible."""
    spec: dict[str, str] = {}
    text = terms if isinstance(terms, str) else " ".join(_as_list(terms))
    for word in text.replace(",", " ").split():
        key, sep, value = word.partition("=")
        if not sep:  # shortcut form "1-5" or "5"
            start, dash, end = word.partition("-")
            spec.update({"start": start, "end": end} if dash else {"end": word})
        else:
            spec[key] = value
    start = int(spec.get("start", "1"), 0)
    stride = int(spec.get("stride", "1"), 0)
    if "count" in spec:
        end = start + (int(spec["count"], 0) - 1) * stride
    else:
        end = int(spec.get("end", "0"), 0)
    fmt = spec.get("format", "%d")
    step = stride if stride else 1
    stop = end + (1 if step > 0 else -1)
    return [fmt % value for value in range(start, stop, step)]
