"""docker_image: an image on the host, as community.docker's module names it. Hosts pull from no
registry: `source: local` ships the controller's image over the host's SSH connection (as
`orchestr image push` does), and only when the host's copy is not the same image id."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestr.docker import commands as docker
from orchestr.docker.parse import unexpected_errors
from orchestr.playbook.modules.base import Arg, ModuleContext, ModuleError, ModuleResult, as_bool
from orchestr.playbook.modules.base import module as register
from orchestr.playbook.modules.docker_common import inspect_on_host

SOURCES = ("local", "pull", "build", "load")
UNSUPPORTED_SOURCE = {
    "pull": "hosts pull from no registry here: have the image on the controller "
    "(docker pull / docker build there) and use source: local to ship it",
    "build": "build the image on the controller (docker build) and use source: local to ship it",
    "load": "load the archive on the controller (docker load) and use source: local to ship it",
}


def reference(name: str, tag: str | None) -> str:
    """name[:tag], community.docker's way: a tag in the name wins over `tag`; digests stay."""
    if "@" in name:
        return name
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return name
    return f"{name}:{tag or 'latest'}"


@dataclass(frozen=True)
class ImagePlan:
    action: str  # "" (nothing) | "push" | "remove"
    reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.action)


def decide_image(
    state: str,
    source: str | None,
    host_id: str | None,
    controller_id: str | None,
    force_source: bool = False,
) -> ImagePlan:
    """Pure: what to do given the image ids on the host and on the controller (None: absent)."""
    if state == "absent":
        return ImagePlan("remove", "state is absent") if host_id else ImagePlan("")
    if source in UNSUPPORTED_SOURCE:
        raise ModuleError(f"source: {source} is not supported: {UNSUPPORTED_SOURCE[source]}")
    if source is None:
        if host_id:
            return ImagePlan("")
        raise ModuleError(
            "the image is not on the host and no source is given: "
            "use source: local to ship it from the controller"
        )
    if controller_id is None:
        raise ModuleError("the image is not on the controller (docker images lists them)")
    if host_id == controller_id and not force_source:
        return ImagePlan("")
    if host_id is None:
        return ImagePlan("push", "not on the host")
    if host_id != controller_id:
        return ImagePlan("push", "the host has another image under this name")
    return ImagePlan("push", "force_source")


async def controller_image_id(ref: str) -> str | None:
    """The image id the name resolves to on the controller (a local subprocess), or None."""
    process = await asyncio.create_subprocess_exec(
        "docker", "image", "inspect", "--format", "{{.Id}}", ref,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode == 0:
        return out.decode().strip() or None
    problems = unexpected_errors(err.decode())
    if problems:
        raise ModuleError(f"docker image inspect failed on the controller: {' '.join(problems)}")
    return None


async def host_image(ctx: ModuleContext, ref: str) -> dict[str, Any] | None:
    return await inspect_on_host(ctx, docker.inspect_image(ref), "image")


ARGS = {
    "name": Arg("str", required=True),
    "tag": Arg("str", default="latest"),
    "source": Arg("str", choices=SOURCES),
    "state": Arg("str", default="present", choices=("present", "absent")),
    "force_absent": Arg("bool", default=False),
    "force_source": Arg("bool", default=False),
}


@register("docker_image", args=ARGS)
async def run(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    ref = reference(str(args["name"]), args.get("tag"))
    state = args.get("state") or "present"
    source = args.get("source")
    on_host = await host_image(ctx, ref)
    host_id = (on_host or {}).get("Id")
    controller_id = None
    if state == "present" and source == "local":
        controller_id = await controller_image_id(ref)
    plan = decide_image(
        state, source, host_id, controller_id, as_bool(args.get("force_source", False))
    )
    result = ModuleResult(changed=plan.changed, data={"image": on_host or {}})
    if plan.changed:
        result.data["actions"] = [f"{plan.action} {ref}: {plan.reason}"]
    if ctx.diff and plan.changed:
        after_id = None if plan.action == "remove" else controller_id
        result.diff = [
            {
                "before": {"exists": bool(host_id), "id": host_id},
                "after": {"exists": after_id is not None, "id": after_id},
                "before_header": f"image {ref}",
                "after_header": f"image {ref}",
            }
        ]
    if not plan.changed or ctx.check_mode:
        return result
    if plan.action == "remove":
        command = docker.remove_image(ref, force=as_bool(args.get("force_absent", False)))
        done = await ctx.run(command)
        if not done.ok:
            raise ModuleError(f"{done.stderr.strip()} (running: {command.display()})")
        result.data["image"] = {}
        return result
    pushed = await ctx.push_image(ref)
    result.data["push"] = pushed
    if isinstance(pushed, Mapping) and "changed" in pushed:
        result.changed = bool(pushed["changed"])
    elif isinstance(pushed, Mapping) and "skipped" in pushed:
        result.changed = not pushed["skipped"]
    result.data["image"] = await host_image(ctx, ref) or {}
    if result.data["image"].get("Id") != controller_id:
        raise ModuleError(
            f"after the push {ctx.host} has {result.data['image'].get('Id')} under {ref}, "
            f"not the controller's {controller_id}"
        )
    return result
