"""Scenario registry: one module per scenario in this package, each registering a Scenario
subclass with @register. Adding a scenario is adding a file here; nothing else changes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bench.harness import Contender

LAB = "bench"  # the only lab the benchmark ever touches


@dataclass
class Context:
    """What a scenario gets to work with for one benchmark invocation."""

    hosts: int
    workdir: Path  # a temp dir, removed afterwards; commands also run with it as cwd
    keep_lab: bool = False
    say: Callable[[str], None] = print  # progress and notes, to stderr
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    warmup: int = 0  # untimed rounds before the measured ones (each contender runs once a round)
    data: dict[str, object] = field(default_factory=dict)  # scenario figures saved in the JSON


class Scenario:
    """Base class: set name/summary, override setup/contenders/teardown."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    default_hosts: ClassVar[int] = 3
    needs_peers: ClassVar[bool] = False
    baseline: ClassVar[str | None] = "orchestr"  # ratios "vs orchestr"
    floor: ClassVar[str | None] = "bare"  # ratios "vs the bare asyncssh floor"
    rotate: ClassVar[bool] = True  # False when contenders must run in the declared order

    def setup(self, ctx: Context) -> None:
        """Bring the world to the starting state (untimed)."""

    def contenders(self, ctx: Context) -> list[Contender]:
        raise NotImplementedError

    def teardown(self, ctx: Context) -> None:
        """Undo what setup did, unless asked to keep it (untimed)."""


_REGISTRY: dict[str, type[Scenario]] = {}


def register(cls: type[Scenario]) -> type[Scenario]:
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"scenario {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Scenario]]:
    """Import every module of this package (each registers itself); returns the registry."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> type[Scenario]:
    scenarios = load_all()
    if name not in scenarios:
        known = ", ".join(scenarios) or "none"
        raise KeyError(f"no scenario {name!r}; known: {known}")
    return scenarios[name]
