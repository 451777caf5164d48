"""file: make a path absent, a file, a directory, a symbolic or hard link, or touch it, and set
owner/group/mode, changing only what differs. One round trip observes; plan_file decides."""

from __future__ import annotations

import posixpath
from typing import Any

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.playbook.modules.common import (
    FileFacts,
    Plan,
    apply,
    format_mode,
    observe,
    plan_attributes,
    resolve_mode,
)
from orchestr.transport.command import Command

STATES = ("absent", "directory", "file", "hard", "link", "touch")


def default_state(args: dict[str, Any], facts: FileFacts) -> str:
    """Ansible: the path's current state, `file` when absent, `directory` with recurse."""
    if args.get("state"):
        return str(args["state"])
    if as_bool(args.get("recurse", False)):
        return "directory"
    if facts.kind in ("directory",):
        return "directory"
    if facts.kind == "link" and args.get("src"):
        return "link"
    return "file"


def link_source_path(path: str, src: str) -> str:
    """Where a link's src is, seen from the host: relative to the link's own directory."""
    return src if src.startswith("/") else posixpath.join(posixpath.dirname(path) or ".", src)


def _new(path: str, kind: str, mode: int) -> FileFacts:
    """What a path just created looks like, for deciding which attributes still need setting."""
    return FileFacts.of(path, kind, mode=mode, uid=-1, gid=-1)


def plan_file(args: dict[str, Any], facts: FileFacts, recurse_differs: bool = False) -> Plan:
    """The steps for one path. `recurse_differs`: something under a directory has another owner,
    group or mode than asked (observed with find; only used with recurse)."""
    path = facts.path
    state = default_state(args, facts)
    if state not in STATES:
        raise ModuleError(f"state must be one of {', '.join(STATES)}: {state}")
    prev = facts.kind
    plan = Plan(data={"path": path, "state": state})
    before: dict[str, Any] = {"path": path, "state": prev}
    after: dict[str, Any] = {"path": path, "state": state}
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    force = as_bool(args.get("force", False))
    steps: list[Command] = []
    current = facts  # facts the attribute step compares against

    def fail(message: str) -> Plan:
        return Plan(failed=True, msg=message, data={"path": path, "state": prev})

    if state == "absent":
        if prev != "absent":
            flags = "-rf" if prev == "directory" else "-f"
            steps.append(Command.argv("rm", flags, "--", path))
        plan.steps, plan.changed = steps, bool(steps)
        if plan.changed:
            plan.diff.append({"before": before, "after": after})
        return plan

    if state == "file":
        if prev == "absent":
            return fail(f"file ({path}) is absent, cannot continue")
        if prev not in ("file", "hard"):
            return fail(f"file ({path}) is {prev}, cannot continue")
        after["state"] = prev
        plan.data["state"] = "file"
    elif state == "directory":
        if prev == "absent":
            steps.append(_make_directories(path, args.get("mode")))
            current = _new(path, "directory", 0o755)
        elif prev != "directory":
            return fail(f"{path} already exists as a {prev}")
    elif state == "touch":
        preserve = {args.get("access_time"), args.get("modification_time")} == {"preserve"}
        if prev == "absent":
            steps.append(Command.argv("touch", "--", path))
            current = _new(path, "file", 0o644)
        elif not preserve:
            steps.append(Command.argv("touch", "--", path))
            after["state"] = "touch"
        plan.data["state"] = "file" if prev in ("absent", "hard") else prev
    elif state in ("link", "hard"):
        src = args.get("src")
        if not src:
            return fail(f"src is required for state={state}")
        src = str(src)
        plan.data["src"] = src
        if state == "link":
            if prev == "link" and facts.link_target == src:
                pass
            elif facts.other_inode is None and not force and prev == "absent":
                return fail(
                    f'src file does not exist, use "force=yes" if you really want to create the link: {link_source_path(path, src)}'
                )
            elif prev == "absent":
                steps.append(Command.argv("ln", "-s", "--", src, path))
            elif prev == "link" or (prev in ("file", "hard", "other") and force):
                steps.append(Command.argv("ln", "-sfn", "--", src, path))
            elif prev == "directory" and force:
                steps.append(Command.argv("rmdir", "--", path))
                steps.append(Command.argv("ln", "-s", "--", src, path))
            else:
                return fail(f"refusing to convert from {prev} to symlink for {path}")
        else:
            if facts.other_inode is None:
                return fail(f"src does not exist: {src}")
            if facts.exists and (facts.inode, facts.dev) == facts.other_inode:
                pass
            elif prev == "absent":
                steps.append(Command.argv("ln", "--", src, path))
            elif force or prev == "link":
                if prev == "directory":
                    steps.append(Command.argv("rmdir", "--", path))
                steps.append(Command.argv("ln", "-f", "--", src, path))
            else:
                return fail(f"Cannot link, {prev} exists at destination: {path}")
        if steps:
            current = _new(path, "link" if state == "link" else "file", facts.mode or 0o644)

    link = state == "link"
    recurse = as_bool(args.get("recurse", False)) and state == "directory"
    attributes = plan_attributes(
        path, current, mode=None if link else mode, owner=owner, group=group, link=link
    )
    if recurse and (recurse_differs or attributes.changed):
        attributes.commands = recursive_commands(path, mode, owner, group)
        attributes.after["recurse"] = True
    steps += attributes.commands
    if facts.exists:
        before.update(attributes.before)
    after.update(attributes.after)
    plan.steps, plan.changed = steps, bool(steps)
    if plan.changed:
        plan.diff.append({"before": before, "after": after})
    wanted = resolve_mode(mode, current.mode, current.kind == "directory")
    if facts.exists or steps:
        if not link:
            plan.data["mode"] = format_mode(wanted if wanted is not None else current.mode)
        plan.data["owner"] = str(owner) if owner else facts.owner
        plan.data["group"] = str(group) if group else facts.group
    if facts.exists and facts.kind != "absent":
        plan.data.update(uid=facts.uid, gid=facts.gid, size=facts.size)
    return plan


def symbolic(mode: Any) -> bool:
    return mode is not None and not isinstance(mode, int) and not str(mode).strip().isdigit()


def recursive_commands(path: str, mode: Any, owner: Any, group: Any) -> list[Command]:
    commands = []
    if owner:
        commands.append(Command.argv("chown", "-R", "--", str(owner), path))
    if group:
        commands.append(Command.argv("chgrp", "-R", "--", str(group), path))
    if mode is not None:
        shown = str(mode) if symbolic(mode) else format_mode(resolve_mode(mode, 0) or 0)
        commands.append(Command.argv("chmod", "-R", shown, path))
    return commands


def recurse_probe(path: str, args: dict[str, Any]) -> Command | None:
    """`find` printing the first entry under path whose owner, group or octal mode differs. A
    symbolic mode cannot be probed this way (its result differs per entry): not tested here."""
    tests: list[str] = []
    if args.get("owner"):
        tests += ["!", "-user", str(args["owner"])]
    if args.get("group"):
        tests += (["-o"] if tests else []) + ["!", "-group", str(args["group"])]
    mode = args.get("mode")
    if mode is not None and not symbolic(mode):
        tests += (["-o"] if tests else []) + ["!", "-perm", format_mode(resolve_mode(mode, 0) or 0)]
    if not tests:
        return None
    return Command.argv("find", path, "(", *tests, ")", "-print") + Command.shell("| head -n 1")


@module(
    "file",
    args={
        "path": Arg(type="path", required=True, aliases=("dest", "name")),
        "state": Arg(choices=STATES),
        "src": Arg(type="path"),
        "mode": Arg(type="raw"),
        "owner": Arg(),
        "group": Arg(),
        "recurse": Arg(type="bool", default=False),
        "force": Arg(type="bool", default=False),
        "follow": Arg(type="bool", default=True),
        "access_time": Arg(),
        "modification_time": Arg(),
        "access_time_format": Arg(default="%Y%m%d%H%M.%S"),
        "modification_time_format": Arg(default="%Y%m%d%H%M.%S"),
        "attributes": Arg(aliases=("attr",)),  # accepted, not applied
        "unsafe_writes": Arg(type="bool", default=False),
    },
)
async def file(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    path = str(args.get("path") or args.get("dest") or args.get("name") or "")
    if not path:
        raise ModuleError("path is required")
    state = args.get("state")
    other = ""
    if state in ("link", "hard") and args.get("src"):
        other = link_source_path(path, str(args["src"])) if state == "link" else str(args["src"])
    follow = as_bool(args.get("follow", True)) and state not in ("link", "hard", "absent")
    facts = await observe(ctx, path, checksum="none", follow=follow, other=other)
    differs = False
    if as_bool(args.get("recurse", False)) and facts.kind == "directory":
        # A symbolic mode applied recursively is always reported as a change (see recurse_probe).
        differs = symbolic(args.get("mode"))
        probe = None if differs else recurse_probe(path, args)
        if probe is not None:
            found = await ctx.run(probe)
            differs = bool(found.stdout.strip())
    return await apply(plan_file(args, facts, differs), ctx)


def _make_directories(path: str, mode: Any) -> Command:
    """mkdir -p, except that with a mode every directory it creates gets that mode, as
    Ansible's file module gives it to missing parents too (existing ones are left alone)."""
    if mode is None:
        return Command.argv("mkdir", "-p", "--", path)
    text = format(mode, "o") if isinstance(mode, int) else str(mode)
    parts = [p for p in path.split("/") if p]
    prefix = "/" if path.startswith("/") else ""
    chain = [prefix + "/".join(parts[: i + 1]) for i in range(len(parts))]
    script = 'm=$1; shift; for d in "$@"; do [ -d "$d" ] || { mkdir -- "$d" && chmod "$m" "$d"; } || exit 1; done'
    return Command.argv("sh", "-c", script, "mkdirs", text, *chain)
