"""What a playbook run prints: Ansible's stream (PLAY, TASK, ok/changed/failed lines, RECAP) or
one JSON event per line. Formatting is pure; `Console` only decides where lines go."""

from __future__ import annotations

import difflib
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from orchestr.vault.secret import mask

WIDTH = 80  # Ansible's columns when stdout is not a terminal

COLORS = {"ok": "32", "changed": "33", "failed": "31", "fatal": "31", "skipping": "36",
          "unreachable": "31", "rescued": "35", "ignored": "35", "warning": "35"}  # fmt: skip


@dataclass
class Stats:
    """Ansible's recap counters for one host."""

    ok: int = 0
    changed: int = 0
    unreachable: int = 0
    failed: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _as_json(value: Any) -> Any:
    """JSON for what events carry: recap counters as objects, anything else as text."""
    return value.as_dict() if isinstance(value, Stats) else str(value)


def banner(text: str) -> str:
    """`TASK [name] ******`: Ansible prints WIDTH - len(text) stars (at least 3)."""
    return f"{text} " + "*" * max(3, WIDTH - len(text))


def recap_line(host: str, stats: Stats) -> str:
    return (
        f"{host:<26} : ok={stats.ok:<4} changed={stats.changed:<4} "
        f"unreachable={stats.unreachable:<4} failed={stats.failed:<4} "
        f"skipped={stats.skipped:<4} rescued={stats.rescued:<4} ignored={stats.ignored:<4}"
    )


def result_line(status: str, host: str, item: Any = None, result: Mapping | None = None,
                delegated: str | None = None) -> str:  # fmt: skip
    """`changed: [node1] => (item=x)`, `fatal: [node1]: FAILED! => {...}`, as Ansible prints."""
    target = f"[{host} -> {delegated}]" if delegated else f"[{host}]"
    compact = json.dumps(dict(result or {}), sort_keys=True, default=str)
    if status == "unreachable":
        return f"fatal: {target}: UNREACHABLE! => {compact}"
    if status == "failed":
        if item is not None:
            return f"failed: {target} (item={_item_label(item)}) => {compact}"
        return f"fatal: {target}: FAILED! => {compact}"
    text = f"{status}: {target}"
    if item is not None:
        text += f" => (item={_item_label(item)})"
    if result is not None:
        text += " => " + json.dumps(dict(result), indent=4, sort_keys=True, default=str)
    return text


def _item_label(item: Any) -> str:
    if isinstance(item, str | int | float | bool) or item is None:
        return str(item)
    return json.dumps(item, sort_keys=True, default=str)


def diff_text(entries: list[Mapping[str, Any]]) -> str:
    """Unified diffs of a module's before/after, as `--diff` shows them."""
    blocks = []
    for entry in entries:
        if "prepared" in entry:  # text a module prepared itself (a plan), shown as it is
            blocks.append(str(entry["prepared"]).rstrip("\n") + "\n")
            continue
        before, after = entry.get("before", ""), entry.get("after", "")
        if isinstance(before, Mapping) or isinstance(after, Mapping):
            before = json.dumps(before, indent=4, sort_keys=True, default=str) + "\n"
            after = json.dumps(after, indent=4, sort_keys=True, default=str) + "\n"
        lines = difflib.unified_diff(
            str(before).splitlines(keepends=True),
            str(after).splitlines(keepends=True),
            fromfile=f"before: {entry.get('before_header', '')}".rstrip(": "),
            tofile=f"after: {entry.get('after_header', '')}".rstrip(": "),
        )
        blocks.append("".join(lines))
    return "".join(blocks).rstrip("\n")


@dataclass
class Console:
    """Where the run's lines go: Ansible's human stream (coloured on a tty) or JSON events."""

    as_json: bool = False
    verbosity: int = 0
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    color: bool | None = None

    def __post_init__(self) -> None:
        if self.color is None:
            self.color = bool(getattr(self.stream, "isatty", lambda: False)())

    # A progress line for a task still running on many hosts (terminal only): who is done.
    PROGRESS_AFTER = 2.0  # seconds before it shows
    PROGRESS_MIN_HOSTS = 5

    def _progress(self, clear: bool = False) -> None:
        task = getattr(self, "_task", None)
        if not self.color or task is None or task["hosts"] < self.PROGRESS_MIN_HOSTS:
            return
        elapsed = time.monotonic() - task["started"]
        if clear or task["done"] >= task["hosts"]:
            sys.stderr.write("\r\033[K")
        elif elapsed >= self.PROGRESS_AFTER:
            sys.stderr.write(
                f"\r\033[K  {task['done']}/{task['hosts']} hosts done, {elapsed:.0f} s"
            )
        sys.stderr.flush()

    def _write(self, text: str, status: str | None = None) -> None:
        self._progress(clear=True)
        text = mask(text)  # decrypted vault values never reach the screen
        if self.color and status in COLORS:
            text = f"\033[{COLORS[status]}m{text}\033[0m"
        self.stream.write(text + "\n")
        self.stream.flush()

    def event(self, kind: str, **fields: Any) -> None:
        """Every event goes through here: JSON mode prints it, human mode formats it."""
        if self.as_json:
            self.stream.write(mask(json.dumps({"event": kind, **fields}, default=_as_json)) + "\n")
            self.stream.flush()
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(**fields)

    def _on_play_start(self, name: str, **_: Any) -> None:
        self._write("")
        self._write(banner(f"PLAY [{name}]"))

    def _on_task_start(self, name: str, handler: bool = False, hosts: int = 0, **_: Any) -> None:
        self._task = {"hosts": hosts, "done": 0, "started": time.monotonic()}
        self._write("")
        self._write(banner(f"{'RUNNING HANDLER' if handler else 'TASK'} [{name}]"))

    def _on_host_result(self, host: str, status: str, item: Any = None, result: Mapping | None = None,
                        delegated: str | None = None, show: bool = False, diff: list | None = None,
                        ignored: bool = False, **_: Any) -> None:  # fmt: skip
        if diff:
            text = diff_text(diff)
            if text:
                self._write(text)
        shown = result if (show or status in ("failed", "unreachable") or self.verbosity) else None
        self._write(result_line(status, host, item, shown, delegated), status)
        if ignored:
            self._write("...ignoring", "ignored")
        if item is None and getattr(self, "_task", None):
            self._task["done"] += 1
            self._progress()

    def _on_retrying(self, host: str, task: str, left: int, **_: Any) -> None:
        self._write(f"FAILED - RETRYING: [{host}]: {task} ({left} retries left).", "failed")

    def _on_included(self, path: str, hosts: list[str], item: Any = None, **_: Any) -> None:
        label = f" => (item={_item_label(item)})" if item is not None else ""
        self._write(f"included: {path} for {', '.join(hosts)}{label}", "skipping")

    def _on_progress(self, message: str, **_: Any) -> None:
        """What a long task (a service rollout) is doing, as it happens."""
        self._write(f"  {message}")

    def _on_warning(self, message: str, **_: Any) -> None:
        self._write(f"[WARNING]: {message}", "warning")

    def _on_no_hosts(self, **_: Any) -> None:
        self._write("skipping: no hosts matched", "skipping")

    def _on_recap(self, stats: Mapping[str, Stats], **_: Any) -> None:
        self._write("")
        self._write(banner("PLAY RECAP"))
        for host, counters in stats.items():
            status = "failed" if counters.failed or counters.unreachable else (
                "changed" if counters.changed else "ok"
            )  # fmt: skip
            self._write(recap_line(host, counters), status)
        self._write("")
