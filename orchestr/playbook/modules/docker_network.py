"""docker_network: a docker network on the host, as community.docker's module keeps it. What
docker cannot change in place (driver, IPAM pools, internal, attachable, labels, options) means a
new network: with attached containers only under `force`, which disconnects them first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestr.docker import commands as docker
from orchestr.docker.parse import ParseError, inspect_one
from orchestr.playbook.modules.base import Arg, ModuleContext, ModuleError, ModuleResult, as_bool
from orchestr.playbook.modules.base import module as register
from orchestr.playbook.modules.docker_common import inspect_on_host
from orchestr.transport.command import Command

IPAM_KEYS = {"subnet": "Subnet", "gateway": "Gateway", "iprange": "IPRange"}


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    state: str = "present"
    driver: str = "bridge"
    ipam_config: tuple[Mapping[str, str], ...] | None = None
    internal: bool | None = None
    attachable: bool | None = None
    labels: Mapping[str, str] | None = None
    driver_options: Mapping[str, str] | None = None
    force: bool = False


def spec_from_args(args: Mapping[str, Any]) -> NetworkSpec:
    pools = None
    if args.get("ipam_config") is not None:
        if not isinstance(args["ipam_config"], list | tuple):
            raise ParseError("ipam_config must be a list of {subnet, gateway, iprange}")
        pools = []
        for pool in args["ipam_config"]:
            if not isinstance(pool, Mapping):
                raise ParseError("ipam_config: each entry is a dict (subnet, gateway, iprange)")
            unknown = set(pool) - set(IPAM_KEYS)
            if unknown:
                raise ParseError(f"ipam_config: unknown key(s) {', '.join(sorted(unknown))}")
            pools.append({key: str(value) for key, value in pool.items() if value is not None})
        pools = tuple(pools)

    def strings(key: str) -> Mapping[str, str] | None:
        value = args.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ParseError(f"{key} must be a dict")
        return {str(k): str(v) for k, v in value.items()}

    def flag(key: str) -> bool | None:
        return None if args.get(key) is None else as_bool(args[key])

    return NetworkSpec(
        name=str(args["name"]),
        state=args.get("state") or "present",
        driver=str(args.get("driver") or "bridge"),
        ipam_config=pools,
        internal=flag("internal"),
        attachable=flag("attachable"),
        labels=strings("labels"),
        driver_options=strings("driver_options"),
        force=as_bool(args.get("force", False)),
    )


def differences(spec: NetworkSpec, network: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (on the host, wanted)} for what the task sets and the network does not have.
    Labels and options the task does not name may be there (community.docker's rule)."""
    found: dict[str, tuple[Any, Any]] = {}
    if network.get("Driver") != spec.driver:
        found["driver"] = (network.get("Driver"), spec.driver)
    if spec.ipam_config is not None:
        pools = list((network.get("IPAM") or {}).get("Config") or [])
        have = [{key: pool.get(IPAM_KEYS[key]) or "" for key in IPAM_KEYS} for pool in pools]
        same = len(pools) == len(spec.ipam_config) and all(
            all(have[i][key] == value for key, value in wanted.items())
            for i, wanted in enumerate(spec.ipam_config)
        )
        if not same:
            shown = [{k: v for k, v in pool.items() if v} for pool in have]
            found["ipam_config"] = (shown, [dict(pool) for pool in spec.ipam_config])
    for field, key in (("internal", "Internal"), ("attachable", "Attachable")):
        wanted = getattr(spec, field)
        if wanted is not None and bool(network.get(key)) != wanted:
            found[field] = (bool(network.get(key)), wanted)
    for field, key in (("labels", "Labels"), ("driver_options", "Options")):
        wanted = getattr(spec, field)
        have = network.get(key) or {}
        if wanted is not None and any(have.get(k) != v for k, v in wanted.items()):
            found[field] = (dict(have), dict(wanted))
    return found


def attached_containers(network: Mapping[str, Any] | None) -> list[str]:
    containers = (network or {}).get("Containers") or {}
    return sorted(info.get("Name") or container_id for container_id, info in containers.items())


@dataclass(frozen=True)
class NetworkPlan:
    steps: tuple[str, ...] = ()  # "disconnect NAME" | "remove" | "create"
    differences: Mapping[str, tuple[Any, Any]] | None = None
    reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def decide_network(spec: NetworkSpec, network: Mapping[str, Any] | None) -> NetworkPlan:
    """Pure: what to do with the network as the host reports it (None: absent)."""
    containers = attached_containers(network)
    if spec.state == "absent":
        if network is None:
            return NetworkPlan()
        if containers and not spec.force:
            raise ModuleError(
                f"network {spec.name} has containers attached ({', '.join(containers)}): "
                "use force: true to disconnect them and remove it"
            )
        steps = tuple(f"disconnect {name}" for name in containers) + ("remove",)
        return NetworkPlan(steps, reason="state is absent")
    if network is None:
        return NetworkPlan(("create",), reason="no such network")
    found = differences(spec, network)
    if not found:
        return NetworkPlan()
    if containers and not spec.force:
        raise ModuleError(
            f"network {spec.name} differs ({', '.join(found)}) and must be recreated, but has "
            f"containers attached ({', '.join(containers)}): use force: true to disconnect them"
        )
    steps = tuple(f"disconnect {name}" for name in containers) + ("remove", "create")
    return NetworkPlan(steps, found, reason="differs: " + ", ".join(found))


def plan_commands(spec: NetworkSpec, plan: NetworkPlan) -> list[Command]:
    result = []
    for step in plan.steps:
        if step.startswith("disconnect "):
            container = step.removeprefix("disconnect ")
            result.append(docker.disconnect_network(container, spec.name, force=True))
        elif step == "remove":
            result.append(docker.remove_network(spec.name))
        elif step == "create":
            result.append(
                docker.create_network(
                    spec.name,
                    driver=spec.driver,
                    ipam=spec.ipam_config or (),
                    internal=bool(spec.internal),
                    attachable=bool(spec.attachable),
                    labels=sorted((spec.labels or {}).items()),
                    options=sorted((spec.driver_options or {}).items()),
                )
            )
    return result


async def inspect(ctx: ModuleContext, name: str) -> dict[str, Any] | None:
    return await inspect_on_host(ctx, docker.inspect_network(name), "network")


ARGS = {
    "name": Arg("str", required=True, aliases=("network_name",)),
    "state": Arg("str", default="present", choices=("present", "absent")),
    "driver": Arg("str", default="bridge"),
    "ipam_config": Arg("list"),
    "internal": Arg("bool"),
    "attachable": Arg("bool"),
    "labels": Arg("dict"),
    "driver_options": Arg("dict"),
    "force": Arg("bool", default=False),
}


@register("docker_network", args=ARGS)
async def run(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    try:
        spec = spec_from_args(args)
    except ParseError as error:
        raise ModuleError(str(error)) from None
    network = await inspect(ctx, spec.name)
    plan = decide_network(spec, network)
    result = ModuleResult(changed=plan.changed, data={"network": network or {}})
    if plan.changed:
        result.data["actions"] = [f"{step} ({plan.reason})" for step in plan.steps]
    if ctx.diff and plan.changed:
        before: dict[str, Any] = {"exists": network is not None}
        after: dict[str, Any] = {"exists": spec.state == "present"}
        for field, (old, new) in (plan.differences or {}).items():
            before[field], after[field] = old, new
        result.diff = [
            {
                "before": before,
                "after": after,
                "before_header": f"network {spec.name}",
                "after_header": f"network {spec.name}",
            }
        ]
    if not plan.changed or ctx.check_mode:
        return result
    commands = plan_commands(spec, plan)
    then = docker.inspect_network(spec.name) if spec.state == "present" else None
    done = await ctx.run(docker.chain(commands, then))
    if not done.ok:
        shown = " && ".join(command.display() for command in commands)
        raise ModuleError(f"{done.stderr.strip() or 'docker failed'} (running: {shown})")
    result.data["network"] = (inspect_one(done.stdout) or {}) if then is not None else {}
    return result
