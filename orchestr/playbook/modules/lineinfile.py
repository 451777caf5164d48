"""lineinfile: make sure one line is in a file (or no line matching), as Ansible's module. The file
is read with one round trip, edited in Python by a pure function, written back only if changed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.playbook.modules.common import FileFacts, Plan, apply, backup_path, observe
from orchestr.playbook.modules.copy import Source, plan_copy, sha1


@dataclass(frozen=True)
class Edit:
    """The outcome of editing a file's text."""

    text: str
    changed: bool
    msg: str = ""
    found: int | None = None  # state=absent: how many lines were removed


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _search(
    pattern: re.Pattern[str] | None, needle: str | None, line: str
) -> re.Match[str] | bool | None:
    if pattern is not None:
        return pattern.search(line)
    if needle is not None:
        return needle in line
    return None


def edit_present(
    text: str,
    line: str,
    *,
    regexp: str | None = None,
    search_string: str | None = None,
    insertafter: str | None = None,
    insertbefore: str | None = None,
    backrefs: bool = False,
    firstmatch: bool = False,
) -> Edit:
    """Ansible's rules: a line matching regexp/search_string is replaced (the last one, or the
    first with firstmatch); failing that, a line equal to `line` means nothing to do; otherwise
    the line goes after/before the (last, or first) line matching the insert regex, at BOF, or
    at EOF (also when the insert regex matches nothing). With backrefs and no match: no change."""
    if insertafter is None and insertbefore is None:
        insertafter = "EOF"
    lines = text.splitlines(keepends=True)
    pattern = re.compile(regexp) if regexp is not None else None
    anchor_text = insertafter if insertafter not in (None, "EOF", "BOF") else None
    if anchor_text is None and insertbefore not in (None, "BOF"):
        anchor_text = insertbefore
    anchor_re = re.compile(anchor_text) if anchor_text is not None else None

    matched_at, match = -1, None
    if pattern is not None or search_string is not None:
        for number, current in enumerate(lines):
            found = _search(pattern, search_string, current)
            if found:
                matched_at, match = number, found
                if firstmatch:
                    break

    equal_at, anchor_at = -1, -1
    if not match:
        for number, current in enumerate(lines):
            if _bare(current) == line:
                equal_at = number
            elif anchor_re is not None and anchor_re.search(current):
                anchor_at = number + 1 if insertafter not in (None, "EOF", "BOF") else number
                if firstmatch:
                    break

    target = matched_at if match else equal_at
    if target != -1:
        wanted = match.expand(line) if backrefs and isinstance(match, re.Match) else line
        if not wanted.endswith("\n"):
            wanted += "\n"
        if lines[target] == wanted:
            return Edit(text, False)
        lines[target] = wanted
        return Edit("".join(lines), True, "line replaced")
    if backrefs:
        return Edit(text, False)  # the line cannot be built without a match
    new = line + "\n"
    if "BOF" in (insertbefore, insertafter):
        return Edit(new + text, True, "line added")
    if insertafter == "EOF" or anchor_at == -1:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        return Edit("".join(lines) + new, True, "line added")
    if insertafter is not None:
        # Already right after its anchor: nothing to do.
        neighbour = lines[anchor_at] if anchor_at < len(lines) else lines[anchor_at - 1]
        if _bare(neighbour) == line:
            return Edit(text, False)
        if anchor_at == len(lines) and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
    lines.insert(anchor_at, new)
    return Edit("".join(lines), True, "line added")


def edit_absent(text: str, *, line: str | None = None, regexp: str | None = None,
                search_string: str | None = None) -> Edit:  # fmt: skip
    """Remove every line matching regexp, containing search_string, or equal to line."""
    pattern = re.compile(regexp) if regexp is not None else None
    kept, removed = [], 0
    for current in text.splitlines(keepends=True):
        if pattern is not None or search_string is not None:
            gone = bool(_search(pattern, search_string, current))
        else:
            gone = _bare(current) == line
        if gone:
            removed += 1
        else:
            kept.append(current)
    msg = f"{removed} line(s) removed" if removed else ""
    return Edit("".join(kept), removed > 0, msg, found=removed)


def plan_lineinfile(args: dict[str, Any], facts: FileFacts, *, backup_name: str = "",
                    diff: bool = False) -> Plan:  # fmt: skip
    """Edit the observed content and plan the write (through copy's plan: backup, validate,
    owner/group/mode, atomic put)."""
    path = facts.path
    state = args.get("state") or "present"
    regexp, search_string = args.get("regexp"), args.get("search_string")
    if regexp is not None and search_string is not None:
        raise ModuleError("parameters are mutually exclusive: regexp|search_string")
    if args.get("insertafter") is not None and args.get("insertbefore") is not None:
        raise ModuleError("parameters are mutually exclusive: insertbefore|insertafter")
    line = args.get("line")
    if facts.kind == "directory":
        return Plan(failed=True, msg=f"Path {path} is a directory !", data={"rc": 256})
    if facts.exists and facts.checksum and sha1((facts.content or "").encode()) != facts.checksum:
        # What came back is not the file's bytes (not UTF-8): writing it back would corrupt it.
        return Plan(failed=True, msg=f"{path} is not UTF-8 text: lineinfile cannot edit it safely")
    create = as_bool(args.get("create", False))
    if state == "absent":
        if regexp is None and search_string is None and line is None:
            raise ModuleError("one of line, search_string, or regexp is required with state=absent")
        if not facts.exists:
            return Plan(msg="file not present", data={"found": 0})
        try:
            edit = edit_absent(facts.content or "", line=None if line is None else str(line),
                               regexp=regexp, search_string=search_string)  # fmt: skip
        except re.error as error:
            raise ModuleError(f"invalid regexp {regexp!r}: {error}") from error
    else:
        if line is None:
            raise ModuleError("line is required with state=present")
        backrefs = as_bool(args.get("backrefs", False))
        if backrefs and regexp is None:
            raise ModuleError("regexp is required with backrefs=true")
        if not facts.exists and not create:
            return Plan(failed=True, msg=f"Destination {path} does not exist !", data={"rc": 257})
        try:
            edit = edit_present(
                facts.content or "", str(line), regexp=regexp, search_string=search_string,
                insertafter=args.get("insertafter"), insertbefore=args.get("insertbefore"),
                backrefs=backrefs, firstmatch=as_bool(args.get("firstmatch", False)),
            )  # fmt: skip
        except re.error as error:
            raise ModuleError(f"invalid regular expression: {error}") from error
    data = edit.text.encode()
    copy_args = {**args, "dest": path, "force": True}
    source = Source(data, sha1(data), path)
    observed = facts
    if facts.exists and facts.checksum is None:  # content read but not hashed: hash what was read
        observed = FileFacts(**{**facts.__dict__, "checksum": sha1((facts.content or "").encode())})
    plan = plan_copy(
        copy_args, source, observed, backup_name=backup_name, diff=diff, make_parents=True
    )
    result = Plan(
        steps=plan.steps, changed=plan.changed, failed=plan.failed, msg=edit.msg or plan.msg
    )
    if plan.changed and not edit.changed:
        result.msg = "ownership, perms or SE linux context changed"
    elif plan.changed and not facts.exists:
        result.msg = edit.msg or "file created"
    if "backup_file" in plan.data:
        result.data["backup"] = plan.data["backup_file"]
    if edit.found is not None:
        result.data["found"] = edit.found
    for entry in plan.diff:
        if "before_header" in entry:
            entry["before_header"] = entry["after_header"] = f"{path} (content)"
            if not facts.exists:
                entry["before"] = ""
        result.diff.append(entry)
    return result


@module(
    "lineinfile",
    args={
        "path": Arg(type="path", required=True, aliases=("dest", "destfile", "name")),
        "state": Arg(default="present", choices=("present", "absent")),
        "regexp": Arg(aliases=("regex",)),
        "search_string": Arg(),
        "line": Arg(aliases=("value",)),
        "insertafter": Arg(),
        "insertbefore": Arg(),
        "backrefs": Arg(type="bool", default=False),
        "create": Arg(type="bool", default=False),
        "backup": Arg(type="bool", default=False),
        "firstmatch": Arg(type="bool", default=False),
        "mode": Arg(type="raw"),
        "owner": Arg(),
        "group": Arg(),
        "validate": Arg(),
        "unsafe_writes": Arg(type="bool", default=False),
        "attributes": Arg(aliases=("attr",)),
    },
)
async def lineinfile(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    path = str(args.get("path") or "")
    if not path:
        raise ModuleError("path is required")
    facts = await observe(ctx, path, content=-1, follow=True)
    plan = plan_lineinfile(args, facts, backup_name=backup_path(facts.path), diff=ctx.diff)
    return await apply(plan, ctx)
