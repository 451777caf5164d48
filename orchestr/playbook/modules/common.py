"""What the host-side modules share: a plan as data (steps, changed, diff), applying it, Ansible's
timestamps, file modes, and reading a path's facts with one `sh` round trip (no Python on hosts)."""

from __future__ import annotations

import datetime
import os
import re
import stat as statmod
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestr.playbook.modules.base import ModuleContext, ModuleError, ModuleResult
from orchestr.transport.base import Result
from orchestr.transport.command import Command, Shell

# Ansible shows no diff of files larger than this (its DEFAULT_MAX_FILE_SIZE_FOR_DIFF).
MAX_DIFF_BYTES = 104448


@dataclass(frozen=True)
class Put:
    """Write these bytes to a path on the host (atomically, through ctx.put)."""

    data: bytes
    path: str
    mode: int

    def describe(self) -> str:
        return f"put {self.path} mode={self.mode:04o} ({len(self.data)} bytes)"


Step = Command | Put


@dataclass
class Plan:
    """A module's decision: the steps that bring the host where the arguments say, whether that
    changes anything, the diff to show, and the values `register` sees."""

    steps: list[Step] = field(default_factory=list)
    changed: bool = False
    diff: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    msg: str = ""
    failed: bool = False

    def rendered(self) -> list[str]:
        """Every step as text: a command's exact line, a put's summary (what tests compare)."""
        return [
            step.render() if isinstance(step, Command) else step.describe() for step in self.steps
        ]


async def apply(plan: Plan, ctx: ModuleContext) -> ModuleResult:
    """Carry out a plan unless in check mode; the first failing step fails the task."""
    if plan.failed:
        return ModuleResult(failed=True, msg=plan.msg, data=plan.data)
    if not ctx.check_mode:
        for step in batched(plan.steps):
            if isinstance(step, Put):
                try:
                    await ctx.put(step.data, step.path, step.mode)
                except OSError as error:
                    raise ModuleError(str(error)) from error
                continue
            result = await ctx.run(step)
            if not result.ok:
                detail = (result.stderr or result.stdout).strip()
                raise ModuleError(f"{step.display()} failed (rc={result.rc}): {detail}")
    return ModuleResult(
        changed=plan.changed,
        diff=plan.diff if ctx.diff else [],
        msg=plan.msg,
        data=plan.data,
    )


def batched(steps: Sequence[Step]) -> list[Step]:
    """Consecutive commands joined into one (one round trip instead of several)."""
    out: list[Step] = []
    run: list[Command] = []
    for step in steps:
        if isinstance(step, Command):
            run.append(step)
            continue
        if run:
            out.append(chain(run))
            run = []
        out.append(step)
    if run:
        out.append(chain(run))
    return out


def chain(commands: Sequence[Command]) -> Command:
    """Commands joined with `&&`: one round trip, stopping at the first failure."""
    joined = commands[0]
    for command in commands[1:]:
        joined = joined + Command.shell("&&") + command
    return joined


# --- time, as Ansible prints it in start/end/delta ---------------------------------------------


def now() -> datetime.datetime:
    return datetime.datetime.now()


def timing(start: datetime.datetime, seconds: float) -> dict[str, str]:
    end = start + datetime.timedelta(seconds=seconds)
    return {"start": str(start), "end": str(end), "delta": str(end - start)}


def backup_path(path: str, moment: float | None = None, pid: int | None = None) -> str:
    """Where Ansible keeps a backup: PATH.PID.YYYY-MM-DD@HH:MM:SS~ (pid of the controller here)."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime(moment))
    return f"{path}.{os.getpid() if pid is None else pid}.{stamp}"


# --- modes -----------------------------------------------------------------------------------

_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$")
_OP = re.compile(r"([-+=])([ugo]|[rwxXst]*)")
_WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
_SHIFT = {"u": 6, "g": 3, "o": 0}


def format_mode(mode: int) -> str:
    return f"{statmod.S_IMODE(mode):04o}"


def resolve_mode(mode: Any, current: int | None, is_dir: bool = False) -> int | None:
    """The permission bits an Ansible `mode` asks for: an int as is, an octal string ('0644',
    '644'), or symbolic clauses ('u=rw,g=r,o=', 'u+x,go-w', 'a+X') applied to `current`."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, bool):
        raise ModuleError(f"mode must be octal or symbolic, not {mode!r}")
    if isinstance(mode, int):
        return mode & 0o7777
    text = str(mode).strip()
    if re.fullmatch(r"[0-7]{1,5}", text):
        value = int(text, 8)
        if value > 0o7777:
            raise ModuleError(f"mode must be at most 07777: {text}")
        return value
    bits = 0 if current is None else statmod.S_IMODE(current)
    for clause in text.split(","):
        found = _CLAUSE.match(clause)
        if not found:
            raise ModuleError(f"mode must be octal or symbolic (u=rw,g=r...): {text!r}")
        who = found.group(1).replace("a", "ugo") or "ugo"
        for op, perms in _OP.findall(found.group(2)):
            bits = _apply_symbolic(bits, who, op, perms, is_dir)
    return bits


def _apply_symbolic(bits: int, who: str, op: str, perms: str, is_dir: bool) -> int:
    if perms in ("u", "g", "o"):  # copy another class's rwx bits: g=u
        rwx = (bits >> _SHIFT[perms]) & 0o7
        perms = "".join(flag for flag, bit in (("r", 4), ("w", 2), ("x", 1)) if rwx & bit)
    wanted = 0
    for person in set(who):
        shift = _SHIFT[person]
        for flag in perms:
            if flag == "r":
                wanted |= 4 << shift
            elif flag == "w":
                wanted |= 2 << shift
            elif flag == "x" or (flag == "X" and (is_dir or bits & 0o111)):
                wanted |= 1 << shift
            elif flag == "s" and person in "ug":
                wanted |= statmod.S_ISUID if person == "u" else statmod.S_ISGID
            elif flag == "t" and person == "o":
                wanted |= statmod.S_ISVTX
    if op == "+":
        return bits | wanted
    if op == "-":
        return bits & ~wanted
    cleared = bits
    for person in set(who):
        cleared &= ~_WHO_BITS[person]
    return cleared | wanted


# --- a path's facts, read with one round trip ---------------------------------------------------

CONTENT_MARK = "--orchestr-content--"

# $1 path, $2 name to append when $1 is a directory (copy's dest dir), $3 checksum tool
# (sha1, sha256, md5 or none), $4 bytes of content to print (-1 all, 0 none), $5 follow links (1/0),
# $6 another path whose inode to report (hard links). Only POSIX sh, coreutils or busybox.
_OBSERVE = (
    'p=$1; if [ -n "$2" ] && [ -d "$p" ]; then p="${p%/}/$2"; fi; '
    'printf "path:%s\\n" "$p"; '
    'd=$(dirname -- "$p"); [ -d "$d" ] && echo parent:1; '
    'if [ -n "$6" ]; then printf "other:%s\\n" "$(stat -L -c "%i|%d" -- "$6" 2>/dev/null)"; fi; '
    'if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi; '
    'L=; [ "$5" = 1 ] && L=-L; '
    'F="%f|%u|%g|%U|%G|%s|%X|%Y|%Z|%i|%d|%h"; '
    's=$(stat $L -c "$F" -- "$p" 2>/dev/null) || s=$(stat -c "$F" -- "$p") || exit 1; '
    'printf "stat:%s\\n" "$s"; '
    'a=; [ -r "$p" ] && a=${a}r; [ -w "$p" ] && a=${a}w; [ -x "$p" ] && a=${a}x; echo "access:$a"; '
    'if [ -L "$p" ]; then printf "link:%s\\n" "$(readlink -- "$p")"; '
    'printf "resolved:%s\\n" "$(readlink -f -- "$p")"; fi; '
    'if [ "$3" != none ] && [ -f "$p" ] && [ -r "$p" ]; then '
    'printf "checksum:%s\\n" "$(${3}sum < "$p" | cut -d " " -f 1)"; fi; '
    'if [ "$4" != 0 ] && [ -f "$p" ] && [ -r "$p" ]; then echo ' + CONTENT_MARK + "; "
    'if [ "$4" = -1 ]; then cat -- "$p"; else head -c "$4" -- "$p"; fi; fi'
)


def observe_command(
    path: str,
    *,
    append: str = "",
    checksum: str = "sha1",
    content: int = 0,
    follow: bool = False,
    other: str = "",
) -> Command:
    return Command.argv(
        "sh", "-c", _OBSERVE, "observe", path, append, checksum, str(content),
        "1" if follow else "0", other,
    )  # fmt: skip


@dataclass(frozen=True)
class FileFacts:
    """What one path is on the host (lstat unless asked to follow links)."""

    path: str
    exists: bool = False
    parent_exists: bool = True
    raw_mode: int = 0  # st_mode: type and permission bits
    uid: int = 0
    gid: int = 0
    owner: str = ""
    group: str = ""
    size: int = 0
    atime: float = 0.0
    mtime: float = 0.0
    ctime: float = 0.0
    inode: int = 0
    dev: int = 0
    nlink: int = 0
    access: str = ""  # r, w, x the connecting user has
    link_target: str | None = None
    resolved: str | None = None
    checksum: str | None = None
    content: str | None = None  # None: not read (absent, not a regular file, or not asked)
    other_inode: tuple[int, int] | None = None  # (inode, dev) of the `other` path

    @property
    def kind(self) -> str:
        """Ansible's names for a file's state: file, directory, link, hard, absent, other."""
        if not self.exists:
            return "absent"
        if statmod.S_ISLNK(self.raw_mode):
            return "link"
        if statmod.S_ISDIR(self.raw_mode):
            return "directory"
        if statmod.S_ISREG(self.raw_mode):
            return "hard" if self.nlink > 1 else "file"
        return "other"

    @property
    def mode(self) -> int:
        return statmod.S_IMODE(self.raw_mode)

    @classmethod
    def absent(cls, path: str, parent_exists: bool = True) -> FileFacts:
        return cls(path=path, parent_exists=parent_exists)

    @classmethod
    def of(cls, path: str, kind: str = "file", **values: Any) -> FileFacts:
        """Facts for tests and data cases: kind plus mode (int or octal text) and the rest."""
        types = {"file": statmod.S_IFREG, "hard": statmod.S_IFREG, "directory": statmod.S_IFDIR,
                 "link": statmod.S_IFLNK}  # fmt: skip
        if kind == "absent":
            other = values.get("other_inode")
            return cls(path, False, values.get("parent_exists", True),
                       other_inode=tuple(other) if other else None)  # fmt: skip
        mode = values.pop("mode", 0o644)
        mode = int(mode, 8) if isinstance(mode, str) else mode
        values.setdefault("nlink", 2 if kind == "hard" else 1)
        if "other_inode" in values and values["other_inode"] is not None:
            values["other_inode"] = tuple(values["other_inode"])
        return cls(path=path, exists=True, raw_mode=types[kind] | mode, **values)


def parse_observed(result: Result, asked_path: str) -> FileFacts:
    """FileFacts from the observe script's output; a failing script fails the task."""
    if not result.ok:
        raise ModuleError(
            f"cannot inspect {asked_path}: {(result.stderr or result.stdout).strip()}"
        )
    head, mark, content = result.stdout.partition(CONTENT_MARK + "\n")
    values: dict[str, Any] = {"path": asked_path, "parent_exists": False}
    exists = True
    for line in head.splitlines():
        key, _, value = line.partition(":")
        if key == "path":
            values["path"] = value
        elif key == "parent":
            values["parent_exists"] = True
        elif key == "absent":
            exists = False
        elif key == "other" and value:
            inode, _, dev = value.partition("|")
            values["other_inode"] = (int(inode), int(dev))
        elif key == "stat":
            values.update(_parse_stat(value))
        elif key == "access":
            values["access"] = value
        elif key == "link":
            values["link_target"] = value
        elif key == "resolved":
            values["resolved"] = value
        elif key == "checksum":
            values["checksum"] = value or None
    if mark:
        values["content"] = content
    if not exists:
        return FileFacts(values["path"], False, values["parent_exists"],
                         other_inode=values.get("other_inode"))  # fmt: skip
    return FileFacts(exists=True, **values)


def _parse_stat(text: str) -> dict[str, Any]:
    parts = text.split("|")
    if len(parts) != 12:
        raise ModuleError(f"unexpected stat output: {text!r}")
    raw, uid, gid, owner, group, size, atime, mtime, ctime, inode, dev, nlink = parts
    return {
        "raw_mode": int(raw, 16), "uid": int(uid), "gid": int(gid), "owner": owner,
        "group": group, "size": int(size), "atime": float(atime), "mtime": float(mtime),
        "ctime": float(ctime), "inode": int(inode), "dev": int(dev), "nlink": int(nlink),
    }  # fmt: skip


async def observe(ctx: ModuleContext, path: str, **options: Any) -> FileFacts:
    return parse_observed(await ctx.run(observe_command(path, **options)), path)


# --- owner, group and mode: the part copy, template, file and lineinfile share ---------------


def owner_differs(wanted: str | None, facts: FileFacts) -> bool:
    if wanted is None or wanted == "":
        return False
    wanted = str(wanted)
    return wanted != (str(facts.uid) if wanted.isdigit() else facts.owner)


def group_differs(wanted: str | None, facts: FileFacts) -> bool:
    if wanted is None or wanted == "":
        return False
    wanted = str(wanted)
    return wanted != (str(facts.gid) if wanted.isdigit() else facts.group)


@dataclass
class AttributeChange:
    commands: list[Command] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.commands)


def plan_attributes(
    path: str,
    facts: FileFacts,
    *,
    mode: Any = None,
    owner: Any = None,
    group: Any = None,
    link: bool = False,
    recurse: bool = False,
) -> AttributeChange:
    """chown/chgrp/chmod commands for what differs on an existing path (none when all match).
    On a symbolic link the link itself is changed (chown -h) and mode is left alone, as Ansible."""
    change = AttributeChange()
    flags = ["-R"] if recurse else []
    if owner_differs(owner, facts):
        change.commands.append(
            Command.argv("chown", *(["-h"] if link else []), *flags, "--", str(owner), path)
        )
        change.before["owner"], change.after["owner"] = facts.owner or facts.uid, str(owner)
    if group_differs(group, facts):
        change.commands.append(
            Command.argv("chgrp", *(["-h"] if link else []), *flags, "--", str(group), path)
        )
        change.before["group"], change.after["group"] = facts.group or facts.gid, str(group)
    if not link:
        wanted = resolve_mode(mode, facts.mode, facts.kind == "directory")
        if wanted is not None and wanted != facts.mode:
            change.commands.append(Command.argv("chmod", *flags, format_mode(wanted), path))
            change.before["mode"], change.after["mode"] = (
                format_mode(facts.mode),
                format_mode(wanted),
            )
    return change


def text_for_diff(data: bytes | str | None) -> str | None:
    """Text to show in a diff, or None for binary or too large content (Ansible skips those)."""
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_DIFF_BYTES or b"\x00" in data:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def shell_fragment(text: str) -> Command:
    return Command((Shell(text),))
