"""copy and template: put a file's bytes on the host when its sha1 differs, then owner, group and
mode only where they differ. One round trip observes the destination; plan_copy decides."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shlex
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
from orchestr.playbook.modules.common import (
    MAX_DIFF_BYTES,
    FileFacts,
    Plan,
    Put,
    apply,
    backup_path,
    format_mode,
    group_differs,
    observe,
    owner_differs,
    plan_attributes,
    resolve_mode,
    text_for_diff,
)
from orchestr.transport.command import Command

_FILE_ARGS = {
    "dest": Arg(type="path", required=True),
    "mode": Arg(type="raw"),
    "owner": Arg(),
    "group": Arg(),
    "backup": Arg(type="bool", default=False),
    "force": Arg(type="bool", default=True, aliases=("thirsty",)),
    "validate": Arg(),
    "follow": Arg(type="bool", default=False),
    "unsafe_writes": Arg(type="bool", default=False),  # accepted; writes are always atomic
    "attributes": Arg(aliases=("attr",)),  # accepted, not applied (chattr is not everywhere)
}


@dataclass(frozen=True)
class Source:
    """What to install: the bytes (None for remote_src, copied on the host), their sha1, where
    they came from (diff header, `src` return value) and a mode for mode=preserve."""

    data: bytes | None
    checksum: str
    label: str
    mode: int | None = None
    remote_path: str | None = None


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def destination(dest: str, src: str | None) -> tuple[str, str]:
    """(path to observe, name to append when it is a directory): `dest/` always means the file
    `basename(src)` inside dest, as Ansible."""
    name = posixpath.basename(src.rstrip("/")) if src else ""
    if dest.endswith("/") and name:
        return dest + name, ""
    return dest, name


def plan_copy(
    args: dict[str, Any],
    source: Source,
    facts: FileFacts,
    *,
    backup_name: str = "",
    diff: bool = False,
    make_parents: bool = False,
) -> Plan:
    """The steps that make facts.path hold the source's bytes with the asked owner/group/mode."""
    path = facts.path
    dest = str(args["dest"])
    data: dict[str, Any] = {"dest": path, "src": source.label, "checksum": source.checksum}
    if facts.kind == "directory":
        return Plan(failed=True, msg=f"Destination {path} is a directory", data=data)
    steps: list[Command | Put] = []
    if not facts.exists and not facts.parent_exists:
        parent = posixpath.dirname(path)
        if not dest.endswith("/") and not make_parents:
            return Plan(
                failed=True, msg=f"Destination directory {parent} does not exist", data=data
            )
        steps.append(Command.argv("mkdir", "-p", "--", parent))
    force = as_bool(args.get("force", True))
    differs = not facts.exists or facts.checksum != source.checksum
    write = differs and (force or not facts.exists)
    mode_arg = args.get("mode")
    if mode_arg == "preserve":
        mode_arg = source.mode
    current = facts.mode if facts.exists else None
    wanted_mode = resolve_mode(mode_arg, current if current is not None else 0o644)
    owner, group = args.get("owner"), args.get("group")
    plan = Plan(data=data)
    if write:
        if facts.exists and as_bool(args.get("backup", False)):
            steps.append(Command.argv("cp", "-p", "--", path, backup_name))
            data["backup_file"] = backup_name
        put_mode = (
            wanted_mode if wanted_mode is not None else (current if current is not None else 0o644)
        )
        steps += _write_steps(args, source, path, put_mode)
        # The new file belongs to whoever wrote it: give it the asked owner/group, or back the
        # previous file's (Ansible's atomic move keeps them too).
        owner_now = owner if owner else (str(facts.uid) if facts.exists else None)
        group_now = group if group else (str(facts.gid) if facts.exists else None)
        if owner_now and group_now:
            steps.append(Command.argv("chown", "--", f"{owner_now}:{group_now}", path))
        elif owner_now:
            steps.append(Command.argv("chown", "--", str(owner_now), path))
        elif group_now:
            steps.append(Command.argv("chgrp", "--", str(group_now), path))
        plan.changed = True
        data["mode"] = format_mode(put_mode)
        if diff:
            plan.diff.append(_content_diff(facts, source, path))
    else:
        change = plan_attributes(path, facts, mode=mode_arg, owner=owner, group=group)
        steps += change.commands
        plan.changed = change.changed
        if change.changed:
            plan.diff.append({"before": {"path": path, **change.before},
                              "after": {"path": path, **change.after}})  # fmt: skip
        data["mode"] = format_mode(wanted_mode if wanted_mode is not None else facts.mode)
    plan.steps = steps
    size = len(source.data) if source.data is not None else facts.size
    data.update(size=size if write or not facts.exists else facts.size, state="file")
    if owner or facts.exists:
        data["owner"] = str(owner or facts.owner)
    if group or facts.exists:
        data["group"] = str(group or facts.group)
    if facts.exists and not owner_differs(owner, facts):
        data["uid"] = facts.uid
    if facts.exists and not group_differs(group, facts):
        data["gid"] = facts.gid
    return plan


def _write_steps(args: dict[str, Any], source: Source, path: str, mode: int) -> list[Command | Put]:
    """Write the new bytes. With `validate`, into a temporary file first, checked, then moved."""
    validate = args.get("validate")
    target = path
    if validate:
        if "%s" not in str(validate):
            raise ModuleError(f"validate must contain %s: {validate}")
        target = f"{path}.orchestr-validate"
    steps: list[Command | Put] = []
    if source.data is not None:
        steps.append(Put(source.data, target, mode))
    else:
        steps.append(Command.argv("cp", "--", str(source.remote_path), target))
        steps.append(Command.argv("chmod", format_mode(mode), target))
    if validate:
        check = str(validate).replace("%s", shlex.quote(target))
        steps.append(Command.shell(f"{check} || {{ rm -f -- {shlex.quote(target)}; exit 1; }}"))
        steps.append(Command.argv("mv", "-f", "--", target, path))
    return steps


def _content_diff(facts: FileFacts, source: Source, path: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"before_header": path, "after_header": source.label}
    before = (
        ""
        if not facts.exists
        else text_for_diff(facts.content)
        if facts.content is not None
        else None
    )
    after = text_for_diff(source.data)
    if facts.exists and (before is None or facts.size > MAX_DIFF_BYTES):
        entry["dst_binary" if before is None else "dst_larger"] = True
        before = ""
    if after is None:
        entry["src_binary"] = True
        after = ""
    entry["before"], entry["after"] = before, after
    return entry


async def install(
    args: dict[str, Any], ctx: ModuleContext, source: Source, src_name: str | None
) -> ModuleResult:
    """Observe the destination (one round trip), plan, apply unless in check mode."""
    dest = args.get("dest")
    if not dest:
        raise ModuleError("dest is required")
    path, append = destination(str(dest), src_name)
    facts = await observe(
        ctx, path, append=append, follow=True, content=MAX_DIFF_BYTES + 1 if ctx.diff else 0
    )
    plan = plan_copy(args, source, facts, backup_name=backup_path(facts.path), diff=ctx.diff)
    return await apply(plan, ctx)


def _content_bytes(content: Any) -> bytes:
    if isinstance(content, dict | list):
        return json.dumps(content).encode()
    return str(content).encode()


# --- a local directory, recursively ----------------------------------------------------------

# $1 the destination root: every directory and regular file under it, with mode, owner, group
# (names and ids) and, for files, the sha1. One round trip whatever the tree's size.
_TREE = (
    'cd -- "$1" 2>/dev/null || { echo nodir; exit 0; }; '
    "find . \\( -type f -o -type d \\) | while IFS= read -r f; do "
    's=$(stat -c "%a|%U|%G|%u|%g" -- "$f"); '
    'if [ -d "$f" ]; then printf "d|%s|%s\\n" "$s" "$f"; '
    'else printf "f|%s|%s|%s\\n" "$s" "$(sha1sum < "$f" | cut -d " " -f 1)" "$f"; fi; done'
)


@dataclass(frozen=True)
class Entry:
    """A file or directory found under the destination root."""

    kind: str  # "f" or "d"
    mode: int
    owner: str
    group: str
    uid: int
    gid: int
    checksum: str = ""


def tree_command(root: str) -> Command:
    return Command.argv("sh", "-c", _TREE, "tree", root)


def parse_tree(stdout: str) -> dict[str, Entry] | None:
    """Relative path ("" for the root) -> Entry; None when the root is not a directory."""
    if stdout.strip() == "nodir":
        return None
    entries: dict[str, Entry] = {}
    for line in stdout.splitlines():
        if line.startswith("d|"):
            _, mode, owner, group, uid, gid, path = line.split("|", 6)
            checksum = ""
        elif line.startswith("f|"):
            _, mode, owner, group, uid, gid, checksum, path = line.split("|", 7)
        else:
            continue
        relative = "" if path == "." else path.removeprefix("./")
        entries[relative] = Entry(line[0], int(mode, 8), owner, group, int(uid), int(gid), checksum)
    return entries


def local_tree(local: str) -> tuple[list[str], dict[str, tuple[bytes, int]]]:
    """Directories (relative, "" first) and files (relative -> bytes, mode) under a local folder."""
    folders: list[str] = []
    files: dict[str, tuple[bytes, int]] = {}
    for top, names, filenames in os.walk(local, followlinks=True):
        names.sort()
        relative = os.path.relpath(top, local)
        relative = "" if relative == "." else relative.replace(os.sep, "/")
        folders.append(relative)
        for name in sorted(filenames):
            path = os.path.join(top, name)
            with open(path, "rb") as handle:
                files[posixpath.join(relative, name)] = (
                    handle.read(),
                    os.stat(path).st_mode & 0o7777,
                )
    return folders, files


def plan_copy_tree(
    args: dict[str, Any],
    root: str,
    folders: list[str],
    files: dict[str, tuple[bytes, int]],
    remote: dict[str, Entry] | None,
) -> Plan:
    """Make root hold the local tree: missing directories made (directory_mode), files put where
    their sha1 differs (force) and owner/group/mode set only where they differ. Nothing under
    root that the source lacks is removed, as Ansible."""
    remote = remote or {}
    force = as_bool(args.get("force", True))
    owner, group, mode = args.get("owner"), args.get("group"), args.get("mode")
    plan = Plan(data={"dest": root, "src": str(args.get("src")), "state": "directory"})
    missing = [
        posixpath.join(root, folder) if folder else root
        for folder in folders
        if folder not in remote
    ]
    if missing:
        plan.steps.append(Command.argv("mkdir", "-p", "--", *missing))
        directory_mode = resolve_mode(args.get("directory_mode"), 0o755, True)
        if directory_mode is not None:
            plan.steps.append(Command.argv("chmod", format_mode(directory_mode), *missing))
        if owner or group:
            spec = f"{owner or ''}:{group or ''}" if owner else str(group)
            plan.steps.append(Command.argv("chown" if owner else "chgrp", "--", spec, *missing))
    written: list[str] = []
    for relative, (data, local_mode) in files.items():
        path = posixpath.join(root, relative)
        entry = remote.get(relative)
        if entry is not None and entry.kind == "d":
            return Plan(failed=True, msg=f"{path} is a directory where {relative} should be a file")
        wanted_source = local_mode if mode == "preserve" else mode
        if entry is None or (entry.checksum != sha1(data) and force):
            current = entry.mode if entry is not None else 0o644
            put_mode = resolve_mode(wanted_source, current)
            plan.steps.append(Put(data, path, current if put_mode is None else put_mode))
            new_owner = owner or (entry.uid if entry is not None else None)
            new_group = group or (entry.gid if entry is not None else None)
            if new_owner is not None and new_group is not None:
                plan.steps.append(Command.argv("chown", "--", f"{new_owner}:{new_group}", path))
            elif new_owner is not None:
                plan.steps.append(Command.argv("chown", "--", str(new_owner), path))
            elif new_group is not None:
                plan.steps.append(Command.argv("chgrp", "--", str(new_group), path))
            written.append(path)
            continue
        facts = FileFacts.of(path, "file", mode=entry.mode, owner=entry.owner, group=entry.group,
                             uid=entry.uid, gid=entry.gid)  # fmt: skip
        plan.steps += plan_attributes(
            path, facts, mode=wanted_source, owner=owner, group=group
        ).commands
    plan.changed = bool(plan.steps)
    if written:
        plan.diff.append({"prepared": "".join(f"copied: {path}\n" for path in written)})
    return plan


async def copy_tree(args: dict[str, Any], ctx: ModuleContext, src: str, local: str) -> ModuleResult:
    """src "dir/" fills dest with dir's contents; src "dir" makes dest/dir, as Ansible."""
    dest = str(args["dest"]).rstrip("/") or "/"
    root = dest if src.endswith("/") else posixpath.join(dest, posixpath.basename(src.rstrip("/")))
    folders, files = local_tree(local)
    observed = await ctx.run(tree_command(root))
    if not observed.ok:
        raise ModuleError(f"cannot inspect {root}: {observed.stderr.strip()}")
    return await apply(plan_copy_tree(args, root, folders, files, parse_tree(observed.stdout)), ctx)


@module(
    "copy",
    args={
        **_FILE_ARGS,
        "src": Arg(type="path"),
        "content": Arg(type="raw"),
        "remote_src": Arg(type="bool", default=False),
        "local_follow": Arg(type="bool", default=True),
        "directory_mode": Arg(type="raw"),
        "checksum": Arg(),
        "decrypt": Arg(type="bool", default=True),
    },
)
async def copy(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    content, src = args.get("content"), args.get("src")
    if content is not None and src:
        raise ModuleError("parameters are mutually exclusive: content|src")
    if content is None and not src:
        raise ModuleError("src (or content) is required")
    if content is not None:
        data = _content_bytes(content)
        source = Source(data, sha1(data), "dynamically generated")
        return await install(args, ctx, source, None)
    src = str(src)
    if as_bool(args.get("remote_src", False)):
        remote = await observe(ctx, src, follow=True)
        if remote.kind == "directory":
            raise ModuleError(f"copying a directory ({src}) is not supported yet")
        if not remote.exists or remote.checksum is None:
            raise ModuleError(f"Source {src} not found")
        source = Source(None, remote.checksum, src, remote.mode, remote_path=src)
        return await install(args, ctx, source, src)
    local = ctx.find_file("files", src)
    if os.path.isdir(local):
        return await copy_tree(args, ctx, src, local)
    with open(local, "rb") as handle:
        data = handle.read()
    source = Source(data, sha1(data), src, os.stat(local).st_mode & 0o7777)
    return await install(args, ctx, source, src)


@module(
    "template",
    args={
        **_FILE_ARGS,
        "src": Arg(type="path", required=True),
        "newline_sequence": Arg(default="\n", choices=("\n", "\r", "\r\n")),
        "output_encoding": Arg(default="utf-8"),
        "trim_blocks": Arg(type="bool", default=True),
        "lstrip_blocks": Arg(type="bool", default=False),
    },
)
async def template(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """src rendered on the controller with the host's variables, then installed as copy does."""
    src = str(args["src"])
    local = ctx.find_file("templates", src)
    with open(local, encoding="utf-8") as handle:
        text = handle.read()
    extra = {"template_path": local, "template_fullpath": os.path.abspath(local),
             "template_destpath": str(args.get("dest"))}  # fmt: skip
    rendered = ctx.render_template(
        text, extra, trim_blocks=as_bool(args.get("trim_blocks", True)),
        lstrip_blocks=as_bool(args.get("lstrip_blocks", False)),
    )  # fmt: skip
    newline = args.get("newline_sequence") or "\n"
    if newline != "\n":
        rendered = rendered.replace("\n", newline)
    data = rendered.encode(args.get("output_encoding") or "utf-8")
    source = Source(data, sha1(data), src, os.stat(local).st_mode & 0o7777)
    return await install(args, ctx, source, src)
