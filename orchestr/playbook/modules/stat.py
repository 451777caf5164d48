"""stat: what a path is on the host, in Ansible's `stat` dictionary, from one round trip."""

from __future__ import annotations

import stat as statmod
from typing import Any

from orchestr.playbook.modules.base import (
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    as_bool,
    module,
)
from orchestr.playbook.modules.common import FileFacts, format_mode, observe

ALGORITHMS = {"sha1": "sha1", "sha256": "sha256", "md5": "md5", "sha224": "sha224",
              "sha384": "sha384", "sha512": "sha512"}  # fmt: skip


def stat_dict(facts: FileFacts, want_checksum: bool) -> dict[str, Any]:
    """Ansible's stat return value for observed facts (mime, attributes and xattrs left out)."""
    if not facts.exists:
        return {"exists": False}
    raw, mode = facts.raw_mode, facts.mode
    value: dict[str, Any] = {
        "exists": True,
        "path": facts.path,
        "mode": format_mode(mode),
        "isdir": statmod.S_ISDIR(raw),
        "ischr": statmod.S_ISCHR(raw),
        "isblk": statmod.S_ISBLK(raw),
        "isreg": statmod.S_ISREG(raw),
        "isfifo": statmod.S_ISFIFO(raw),
        "islnk": statmod.S_ISLNK(raw),
        "issock": statmod.S_ISSOCK(raw),
        "uid": facts.uid,
        "gid": facts.gid,
        "size": facts.size,
        "inode": facts.inode,
        "dev": facts.dev,
        "nlink": facts.nlink,
        "atime": facts.atime,
        "mtime": facts.mtime,
        "ctime": facts.ctime,
        "wusr": bool(mode & statmod.S_IWUSR),
        "rusr": bool(mode & statmod.S_IRUSR),
        "xusr": bool(mode & statmod.S_IXUSR),
        "wgrp": bool(mode & statmod.S_IWGRP),
        "rgrp": bool(mode & statmod.S_IRGRP),
        "xgrp": bool(mode & statmod.S_IXGRP),
        "woth": bool(mode & statmod.S_IWOTH),
        "roth": bool(mode & statmod.S_IROTH),
        "xoth": bool(mode & statmod.S_IXOTH),
        "isuid": bool(mode & statmod.S_ISUID),
        "isgid": bool(mode & statmod.S_ISGID),
        "readable": "r" in facts.access,
        "writeable": "w" in facts.access,
        "executable": "x" in facts.access,
    }
    if facts.owner and facts.owner != "UNKNOWN":
        value["pw_name"] = facts.owner
    if facts.group and facts.group != "UNKNOWN":
        value["gr_name"] = facts.group
    if statmod.S_ISLNK(raw):
        value["lnk_target"] = facts.link_target
        value["lnk_source"] = facts.resolved
    if want_checksum and statmod.S_ISREG(raw) and facts.checksum:
        value["checksum"] = facts.checksum
    return value


@module(
    "stat",
    args={
        "path": Arg(type="path", required=True, aliases=("dest", "name")),
        "follow": Arg(type="bool", default=False),
        "get_checksum": Arg(type="bool", default=True),
        "checksum_algorithm": Arg(
            default="sha1", choices=tuple(ALGORITHMS), aliases=("checksum", "checksum_algo")
        ),  # fmt: skip
        "get_mime": Arg(type="bool", default=True, aliases=("mime", "mime_type", "mime-type")),
        "get_attributes": Arg(type="bool", default=True, aliases=("attr", "attributes")),
        "get_selinux_context": Arg(type="bool", default=False),
    },
)
async def stat(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """Read-only, so it runs in check mode too and never reports a change."""
    path = str(args.get("path") or "")
    if not path:
        raise ModuleError("path is required")
    want_checksum = as_bool(args.get("get_checksum", True))
    algorithm = str(args.get("checksum_algorithm") or "sha1")
    if algorithm not in ALGORITHMS:
        raise ModuleError(f"checksum_algorithm must be one of {', '.join(ALGORITHMS)}")
    facts = await observe(
        ctx, path, checksum=ALGORITHMS[algorithm] if want_checksum else "none",
        follow=as_bool(args.get("follow", False)),
    )  # fmt: skip
    return ModuleResult(data={"stat": stat_dict(facts, want_checksum)})
