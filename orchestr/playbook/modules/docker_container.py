"""docker_container: a named container in the state the task describes, as community.docker's
module keeps it, through the docker CLI. One round trip observes (container and image inspect),
a pure `decide` says what to do and why, one round trip acts and reads the result back."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orchestr.docker import commands as docker
from orchestr.docker.commands import ContainerOptions, Healthcheck, NetworkAttachment
from orchestr.docker.parse import (
    ParseError,
    bindings_by_port,
    capability,
    env_dict,
    health_test,
    inspect_one,
    parse_duration,
    parse_port_spec,
    parse_size,
    parse_volume,
    port_bindings,
    sections,
    unexpected_errors,
)
from orchestr.playbook.modules.base import Arg, ModuleContext, ModuleError, ModuleResult, as_bool
from orchestr.playbook.modules.base import module as register
from orchestr.transport.command import Command

STATES = ("started", "stopped", "present", "absent")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")

# Compared options and the kind of value each is (community.docker's comparison types): a value
# or list compares strictly by default, a set or dict with allow_more_present.
FIELDS: dict[str, str] = {
    "image": "value",
    "command": "list",
    "entrypoint": "list",
    "env": "dict",
    "labels": "dict",
    "published_ports": "dict",
    "volumes": "set",
    "restart_policy": "value",
    "restart_retries": "value",
    "healthcheck": "dict",
    "networks": "set",
    "network_mode": "value",
    "hostname": "value",
    "user": "value",
    "working_dir": "value",
    "memory": "value",
    "cpus": "value",
    "init": "value",
    "privileged": "value",
    "cap_add": "set",
    "cap_drop": "set",
    "stop_timeout": "value",
}
# What `docker update` changes in place; any other difference means a new container.
UPDATABLE = frozenset({"memory", "cpus", "restart_policy", "restart_retries"})
COMPARISON_ALIASES = {"ports": "published_ports"}
MODES = ("strict", "ignore", "allow_more_present")


def default_comparison(name: str) -> str:
    if name == "stop_timeout":
        return "ignore"
    return "strict" if FIELDS[name] in ("value", "list") else "allow_more_present"


def resolve_comparisons(raw: Mapping[str, Any] | None) -> dict[str, str]:
    """Every compared field's mode: the task's `comparisons` over community.docker's defaults
    (`*` sets strict or ignore for the fields it does not name)."""
    raw = dict(raw or {})
    wildcard = raw.pop("*", None)
    if wildcard is not None and wildcard not in ("strict", "ignore"):
        raise ParseError(f"comparisons: '*' must be strict or ignore, not {wildcard!r}")
    result = {name: wildcard or default_comparison(name) for name in FIELDS}
    for key, mode in raw.items():
        name = COMPARISON_ALIASES.get(key, key)
        if name not in FIELDS:
            raise ParseError(
                f"comparisons: {key!r} is not a compared option (one of {', '.join(FIELDS)})"
            )
        if mode not in MODES:
            raise ParseError(f"comparisons: {key}: {mode!r} is not one of {', '.join(MODES)}")
        if mode == "allow_more_present" and FIELDS[name] not in ("set", "dict"):
            raise ParseError(f"comparisons: {key}: allow_more_present is for lists and dicts")
        result[name] = mode
    return result


@dataclass(frozen=True)
class ContainerSpec:
    """The task, validated: what to create, the state to keep, and how to compare."""

    options: ContainerOptions
    state: str = "started"
    given: frozenset[str] = frozenset()  # the compared fields the task sets
    comparisons: Mapping[str, str] = field(default_factory=lambda: resolve_comparisons(None))
    recreate: bool = False
    restart: bool = False
    force_kill: bool = False
    keep_volumes: bool = True
    detach: bool = True
    cleanup: bool = False

    @property
    def name(self) -> str:
        return self.options.name


# -- arguments ----------------------------------------------------------------------------


def _words(value: Any, what: str) -> tuple[str, ...]:
    """A command or entrypoint: a string is split as sh would (community.docker's `correct`
    command handling), a list is taken word for word."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as error:
            raise ParseError(f"{what}: {error}") from None
    if isinstance(value, list | tuple):
        return tuple(str(word) for word in value)
    raise ParseError(f"{what} must be a string or a list")


def _strings(value: Any, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ParseError(f"{what} must be a dict")
    pairs = []
    for key, item in value.items():
        if isinstance(item, bool):
            # community.docker refuses these too: yes/true/on would reach the program as "True"
            raise ParseError(
                f"{what}.{key} is a boolean ({item}); quote it to say which string you mean"
            )
        pairs.append((str(key), "" if item is None else str(item)))
    return tuple(pairs)


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    raise ParseError(f"{what} must be a list")


def _healthcheck(value: Any) -> Healthcheck:
    if not isinstance(value, Mapping):
        raise ParseError("healthcheck must be a dict (test, interval, timeout, retries...)")
    unknown = set(value) - {"test", "interval", "timeout", "retries", "start_period", "disable"}
    if unknown:
        raise ParseError(f"healthcheck: unknown option(s) {', '.join(sorted(unknown))}")
    test: tuple[str, ...] | None = None
    if as_bool(value.get("disable", False)):
        test = ("NONE",)
    elif value.get("test") is not None:
        line = health_test(
            value["test"] if isinstance(value["test"], str) else _words(value["test"], "test")
        )
        # The CLI has one healthcheck flag, --health-cmd, which is always the shell form.
        test = ("NONE",) if line == "NONE" else ("CMD-SHELL", line or "")

    if test == ("NONE",):
        return Healthcheck(test)  # docker refuses timings with --no-healthcheck

    def duration(key: str) -> int | None:
        raw = value.get(key)
        return None if raw is None else parse_duration(raw)

    retries = value.get("retries")
    return Healthcheck(
        test=test,
        interval=duration("interval"),
        timeout=duration("timeout"),
        retries=None if retries is None else int(retries),
        start_period=duration("start_period"),
    )


def _networks(value: Any) -> tuple[NetworkAttachment, ...]:
    result = []
    for item in _list(value, "networks"):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or not item.get("name"):
            raise ParseError("networks: each entry needs a name")
        result.append(
            NetworkAttachment(
                name=str(item["name"]),
                ipv4_address=str(item["ipv4_address"]) if item.get("ipv4_address") else None,
                aliases=tuple(str(alias) for alias in _list(item.get("aliases"), "aliases")),
            )
        )
    return tuple(result)


def spec_from_args(args: Mapping[str, Any]) -> ContainerSpec:
    """Validate and normalize the task's arguments (loader-normalized: aliases resolved)."""
    present = {key for key, value in args.items() if value is not None}
    state = args.get("state") or "started"
    if state not in STATES:
        raise ParseError(f"state must be one of {', '.join(STATES)}")
    ports = [str(port) for port in _list(args.get("published_ports"), "published_ports")]
    publish_all = "all" in ports
    ports = [port for port in ports if port != "all"]
    for port in ports:
        parse_port_spec(port)
    volumes = [str(volume) for volume in _list(args.get("volumes"), "volumes")]
    for volume in volumes:
        parse_volume(volume)
    policy = args.get("restart_policy")
    if policy is not None and policy not in RESTART_POLICIES:
        raise ParseError(f"restart_policy must be one of {', '.join(RESTART_POLICIES)}")
    memory = args.get("memory")
    if memory is not None:
        memory = str(memory)
        parse_size(memory)

    def optional(key: str, kind: type) -> Any:
        value = args.get(key)
        if value is None:
            return None
        if kind is bool:
            return as_bool(value)
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ParseError(f"{key} must be {kind.__name__}, not {value!r}") from None

    options = ContainerOptions(
        name=str(args["name"]),
        image=str(args.get("image") or ""),
        # An empty command is no command: the CLI cannot clear an image's CMD without
        # --entrypoint, so asking for none would differ forever.
        command=_words(args["command"], "command") or None
        if args.get("command") is not None
        else None,
        entrypoint=None
        if args.get("entrypoint") is None
        else _words(args["entrypoint"], "entrypoint"),
        env=_strings(args.get("env") or {}, "env"),
        labels=_strings(args.get("labels") or {}, "labels"),
        published_ports=tuple(ports),
        publish_all_ports=publish_all,
        volumes=tuple(volumes),
        restart_policy=policy,
        restart_retries=optional("restart_retries", int),
        healthcheck=None if args.get("healthcheck") is None else _healthcheck(args["healthcheck"]),
        networks=_networks(args.get("networks")),
        network_mode=optional("network_mode", str),
        hostname=optional("hostname", str),
        user=optional("user", str),
        working_dir=optional("working_dir", str),
        memory=memory,
        cpus=optional("cpus", float),
        init=optional("init", bool),
        privileged=optional("privileged", bool),
        cap_add=tuple(str(cap) for cap in _list(args.get("cap_add"), "cap_add")),
        cap_drop=tuple(str(cap) for cap in _list(args.get("cap_drop"), "cap_drop")),
        stop_timeout=optional("stop_timeout", int),
    )
    given = frozenset(name for name in FIELDS if name in present)
    if options.command is None:
        given -= {"command"}
    if options.image:
        given |= {"image"}
    return ContainerSpec(
        options=options,
        state=state,
        given=given,
        comparisons=resolve_comparisons(args.get("comparisons")),
        recreate=as_bool(args.get("recreate", False)),
        restart=as_bool(args.get("restart", False)),
        force_kill=as_bool(args.get("force_kill", False)),
        keep_volumes=as_bool(args.get("keep_volumes", True)),
        detach=as_bool(args.get("detach", True)),
        cleanup=as_bool(args.get("cleanup", False)),
    )


# -- comparing ----------------------------------------------------------------------------


def expected_values(spec: ContainerSpec, image: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields the task sets, in the shape `observed_values` reads from an inspect. The
    image's own env, labels and volumes are part of what a new container would have."""
    o = spec.options
    image_config = (image or {}).get("Config") or {}
    values: dict[str, Any] = {}
    for name in spec.given:
        if name == "image":
            values[name] = (image or {}).get("Id")
        elif name == "command":
            values[name] = list(o.argv_command or ())
        elif name == "entrypoint":
            values[name] = list(o.entrypoint[:1])
            values["command"] = list(o.argv_command or ())  # --entrypoint resets the image's CMD
        elif name == "env":
            values[name] = env_dict(image_config.get("Env")) | dict(o.env)
        elif name == "labels":
            values[name] = dict(image_config.get("Labels") or {}) | dict(o.labels)
        elif name == "published_ports":
            values[name] = bindings_by_port(
                tuple(b for port in o.published_ports for b in parse_port_spec(port))
            )
            if o.publish_all_ports:
                values["publish_all_ports"] = True
        elif name == "volumes":
            values[name] = {parse_volume(v).key for v in o.volumes} | set(
                image_config.get("Volumes") or {}
            )
        elif name == "restart_policy":
            values[name] = o.restart_policy
        elif name == "restart_retries":
            values[name] = o.restart_retries
        elif name == "healthcheck":
            values[name] = _health_values(o.healthcheck)
        elif name == "memory":
            values[name] = parse_size(o.memory or 0)
        elif name == "cpus":
            values[name] = round((o.cpus or 0) * 1e9)
        elif name in ("cap_add", "cap_drop"):
            values[name] = {capability(cap) for cap in getattr(o, name)}
        elif name == "init":
            values[name] = bool(o.init)
        elif name == "privileged":
            values[name] = bool(o.privileged)
        elif name != "networks":
            values[name] = getattr(o, name)
    return values


def _health_values(health: Healthcheck | None) -> dict[str, Any]:
    if health is None:
        return {}
    values = {
        "test": health_test(health.test),
        "interval": health.interval,
        "timeout": health.timeout,
        "retries": health.retries,
        "start_period": health.start_period,
    }
    return {key: value for key, value in values.items() if value is not None}


def observed_values(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's inspect read into the fields `expected_values` produces."""
    config = container.get("Config") or {}
    host = container.get("HostConfig") or {}
    health = config.get("Healthcheck") or {}
    restart = host.get("RestartPolicy") or {}
    return {
        "image": container.get("Image"),
        "command": list(config.get("Cmd") or []),
        "entrypoint": list(config.get("Entrypoint") or []),
        "env": env_dict(config.get("Env")),
        "labels": dict(config.get("Labels") or {}),
        "published_ports": port_bindings(host.get("PortBindings")),
        "publish_all_ports": bool(host.get("PublishAllPorts")),
        "volumes": {parse_volume(bind).key for bind in host.get("Binds") or []}
        | set(config.get("Volumes") or {}),
        "restart_policy": restart.get("Name") or "no",
        "restart_retries": restart.get("MaximumRetryCount") or 0,
        "healthcheck": {
            key: value
            for key, value in {
                "test": health_test(health.get("Test")),
                "interval": health.get("Interval") or None,
                "timeout": health.get("Timeout") or None,
                "retries": health.get("Retries") or None,
                "start_period": health.get("StartPeriod") or None,
            }.items()
            if value is not None
        },
        "network_mode": host.get("NetworkMode"),
        "hostname": config.get("Hostname"),
        "user": config.get("User") or "",
        "working_dir": config.get("WorkingDir") or "",
        "memory": host.get("Memory") or 0,
        "cpus": host.get("NanoCpus") or 0,
        "init": bool(host.get("Init")),
        "privileged": bool(host.get("Privileged")),
        "cap_add": {capability(cap) for cap in host.get("CapAdd") or []},
        "cap_drop": {capability(cap) for cap in host.get("CapDrop") or []},
        "stop_timeout": config.get("StopTimeout"),
    }


def matches(kind: str, mode: str, expected: Any, actual: Any) -> bool:
    """community.docker's comparison: strict is equality; allow_more_present lets the container
    have more set members, or more dict keys (a key the task sets must have its value)."""
    if mode == "ignore":
        return True
    if mode == "allow_more_present" and kind == "set":
        return set(expected) <= set(actual)
    if mode == "allow_more_present" and kind == "dict":
        return all(key in actual and actual[key] == value for key, value in expected.items())
    return expected == actual


@dataclass(frozen=True)
class Difference:
    """A compared field whose value on the host is not what the task asks for."""

    field: str
    before: Any
    after: Any

    @property
    def in_place(self) -> bool:
        return self.field in UPDATABLE


def differences(
    spec: ContainerSpec, container: Mapping[str, Any], image: Mapping[str, Any] | None
) -> list[Difference]:
    expected = expected_values(spec, image)
    actual = observed_values(container)
    found = []
    for name in sorted(expected):
        kind = FIELDS.get(name, "value")
        mode = spec.comparisons.get(name, "strict")
        if name == "command" and "entrypoint" in spec.given:
            mode = spec.comparisons["entrypoint"]  # the entrypoint's tail lives in Cmd
        if name == "publish_all_ports":
            mode = spec.comparisons["published_ports"]
        if name == "restart_retries" and spec.options.restart_policy != "on-failure":
            continue  # docker keeps no retry count for other policies
        if name == "image" and expected[name] is None:
            if mode != "ignore":
                found.append(Difference(name, actual[name], None))
            continue
        if not matches(kind, mode, expected[name], actual[name]):
            found.append(Difference(name, actual[name], expected[name]))
    return found


def network_steps(spec: ContainerSpec, container: Mapping[str, Any]) -> list[Step]:
    """Connect, reconnect (address or aliases differ) or, with strict comparison, disconnect:
    networks change on the container in place, as community.docker does."""
    mode = spec.comparisons["networks"]
    if "networks" not in spec.given or mode == "ignore":
        return []
    attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
    steps: list[Step] = []
    for network in spec.options.networks:
        have = attached.get(network.name)
        if have is None:
            steps.append(Step("connect", f"not on network {network.name}", network))
            continue
        address = (have.get("IPAMConfig") or {}).get("IPv4Address") or None
        aliases = set(have.get("Aliases") or [])
        if (network.ipv4_address and address != network.ipv4_address) or not set(
            network.aliases
        ) <= aliases:
            reason = f"address or aliases differ on network {network.name}"
            steps.append(Step("disconnect", reason, network))
            steps.append(Step("connect", reason, network))
    if mode == "strict":
        wanted = {network.name for network in spec.options.networks}
        mode_network = spec.options.network_mode
        wanted.add("bridge" if mode_network == "default" else mode_network or "")
        for name in sorted(attached):
            if name not in wanted:
                steps.append(Step("disconnect", "not a listed network", NetworkAttachment(name)))
    return steps


# -- deciding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing to do to the container, and why."""

    action: str  # create | remove | stop | start | restart | update | connect | disconnect
    reason: str = ""
    network: NetworkAttachment | None = None


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()
    differences: tuple[Difference, ...] = ()
    running_before: bool = False
    exists_before: bool = False
    image_missing: bool = False  # the task names an image the host does not have

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    @property
    def creates(self) -> bool:
        return any(step.action == "create" for step in self.steps)

    @property
    def running_after(self) -> bool:
        running = self.running_before
        for step in self.steps:
            if step.action in ("start", "restart"):
                running = True
            elif step.action in ("stop", "remove", "create"):
                running = False
        return running


def decide(
    spec: ContainerSpec,
    container: Mapping[str, Any] | None,
    image: Mapping[str, Any] | None,
) -> Plan:
    """What to do, given the container and image as the host reports them (None: absent)."""
    exists = container is not None
    running = bool(exists and ((container.get("State") or {}).get("Running")))
    image_missing = bool(spec.options.image) and image is None
    base = Plan(running_before=running, exists_before=exists, image_missing=image_missing)
    if spec.state == "absent":
        if not exists:
            return base
        steps = [Step("stop", "state is absent")] if running and not spec.force_kill else []
        return replace(base, steps=(*steps, Step("remove", "state is absent")))

    def create(reason: str, start: bool) -> list[Step]:
        connects = [
            Step("connect", "joins its networks", network)
            for network in spec.options.later_networks
        ]
        if (
            "networks" in spec.given
            and spec.comparisons["networks"] == "strict"
            and spec.options.network_mode is None
            and not spec.options.networks
        ):
            # `networks: []`, strictly: no network at all, not docker's default bridge
            connects.append(Step("disconnect", "no networks listed", NetworkAttachment("bridge")))
        return [Step("create", reason), *connects, *([Step("start", reason)] if start else [])]

    if not exists:
        return replace(base, steps=tuple(create("no such container", spec.state == "started")))

    found = differences(spec, container, image)
    rebuild = [d for d in found if not d.in_place]
    if spec.recreate or rebuild:
        reason = (
            "recreate requested"
            if spec.recreate and not rebuild
            else "differs: " + ", ".join(d.field for d in rebuild)
        )
        start = spec.state == "started" or (spec.state == "present" and running)
        steps = [Step("stop", reason)] if running else []
        steps += [Step("remove", reason), *create(reason, start)]
        return replace(base, steps=tuple(steps), differences=tuple(found))

    steps = []
    if found:
        steps.append(Step("update", "differs: " + ", ".join(d.field for d in found)))
    steps += network_steps(spec, container)
    if spec.state == "started" and not running:
        steps.append(Step("start", "state is started"))
    elif spec.state == "started" and spec.restart:
        steps.append(Step("restart", "restart requested"))
    elif spec.state == "stopped" and running:
        steps.append(Step("stop", "state is stopped"))
    return replace(base, steps=tuple(steps), differences=tuple(found))


# -- commands -----------------------------------------------------------------------------


def step_commands(spec: ContainerSpec, plan: Plan) -> list[Command]:
    """The docker commands that carry the plan out. A create followed directly by a start is
    one `docker run --detach`."""
    o = spec.options
    result: list[Command] = []
    steps = list(plan.steps)
    index = 0
    while index < len(steps):
        step = steps[index]
        following = steps[index + 1].action if index + 1 < len(steps) else None
        if step.action == "create" and following == "start":
            result.append(docker.run_container(o))
            index += 2
            continue
        if step.action == "create":
            result.append(docker.create_container(o))
        elif step.action == "start":
            result.append(docker.start_container(o.name))
        elif step.action == "stop":
            if spec.force_kill:
                result.append(docker.kill_container(o.name))
            else:
                result.append(docker.stop_container(o.name, o.stop_timeout))
        elif step.action == "restart":
            result.append(docker.restart_container(o.name, o.stop_timeout))
        elif step.action == "remove":
            result.append(docker.remove_container(o.name, volumes=not spec.keep_volumes))
        elif step.action == "update":
            fields = {d.field for d in plan.differences}
            restart = None
            if fields & {"restart_policy", "restart_retries"}:
                restart = docker.restart_flag(o.restart_policy, o.restart_retries)
            result.append(
                docker.update_container(
                    o.name,
                    memory=parse_size(o.memory) if "memory" in fields and o.memory else None,
                    cpus=o.cpus if "cpus" in fields else None,
                    restart=restart,
                )
            )
        elif step.action == "connect":
            assert step.network is not None
            result.append(docker.connect_network(o.name, step.network))
        elif step.action == "disconnect":
            assert step.network is not None
            result.append(docker.disconnect_network(o.name, step.network.name))
        index += 1
    return result


# -- reporting ----------------------------------------------------------------------------


def _shown(name: str, value: Any) -> Any:
    """A field's value as diffs show it: sets sorted, secret-looking env values masked."""
    if isinstance(value, set | frozenset):
        return sorted(value)
    if name == "env" and isinstance(value, Mapping):
        return {k: "***" if docker.looks_secret(k) else v for k, v in value.items()}
    if name == "published_ports" and isinstance(value, Mapping):
        return {port: sorted(":".join(pair) for pair in pairs) for port, pairs in value.items()}
    return value


def plan_diff(spec: ContainerSpec, plan: Plan) -> dict[str, Any]:
    """Before and after of what changes: existence, running, and each differing field."""
    before: dict[str, Any] = {"exists": plan.exists_before}
    after: dict[str, Any] = {"exists": spec.state != "absent"}
    if plan.exists_before:
        before["running"] = plan.running_before
    if after["exists"]:
        after["running"] = plan.running_after
    for difference in plan.differences:
        before[difference.field] = _shown(difference.field, difference.before)
        after[difference.field] = _shown(difference.field, difference.after)
    networks = [step for step in plan.steps if step.action in ("connect", "disconnect")]
    if networks and not plan.creates:
        after["networks"] = [
            f"{step.action} {step.network.name}" for step in networks if step.network
        ]
    return {
        "before": before,
        "after": after,
        "before_header": f"container {spec.name}",
        "after_header": f"container {spec.name}",
    }


# -- the module ---------------------------------------------------------------------------


async def observe(
    ctx: ModuleContext, spec: ContainerSpec
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The container and the task's image as the host has them, in one round trip."""
    inspections = [docker.inspect_container(spec.name)]
    if spec.options.image:
        inspections.append(docker.inspect_image(spec.options.image))
    result = await ctx.run(docker.observe(*inspections))
    errors = unexpected_errors(result.stderr)
    if errors:
        raise ModuleError(f"docker inspect failed on {ctx.host}: {' '.join(errors)}")
    parts = sections(result.stdout) + [""]
    try:
        return inspect_one(parts[0]), inspect_one(parts[1]) if spec.options.image else None
    except ParseError as error:
        raise ModuleError(str(error)) from None


def _failure(commands: list[Command], stderr: str) -> ModuleError:
    shown = " && ".join(command.display() for command in commands)
    return ModuleError(f"{stderr.strip() or 'docker failed'} (running: {shown})")


ARGS = {
    "name": Arg("str", required=True),
    "image": Arg("str"),
    "state": Arg("str", default="started", choices=STATES),
    "command": Arg("raw"),
    "entrypoint": Arg("raw"),
    "env": Arg("dict"),
    "labels": Arg("dict"),
    "published_ports": Arg("list", aliases=("ports",)),
    "volumes": Arg("list"),
    "restart_policy": Arg("str", choices=RESTART_POLICIES),
    "restart_retries": Arg("int"),
    "healthcheck": Arg("dict"),
    "networks": Arg("list"),
    "network_mode": Arg("str"),
    "hostname": Arg("str"),
    "user": Arg("str"),
    "working_dir": Arg("str"),
    "memory": Arg("str"),
    "cpus": Arg("float"),
    "init": Arg("bool"),
    "privileged": Arg("bool"),
    "cap_add": Arg("list", aliases=("capabilities",)),
    "cap_drop": Arg("list"),
    "comparisons": Arg("dict"),
    "recreate": Arg("bool", default=False),
    "restart": Arg("bool", default=False),
    "pull": Arg("raw"),
    "detach": Arg("bool", default=True),
    "force_kill": Arg("bool", default=False, aliases=("forcekill",)),
    "stop_timeout": Arg("int"),
    "keep_volumes": Arg("bool", default=True),
    "cleanup": Arg("bool", default=False),
}


@register("docker_container", args=ARGS)
async def run(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    try:
        spec = spec_from_args(args)
    except ParseError as error:
        raise ModuleError(str(error)) from None
    warnings = []
    if args.get("pull") not in (None, False, "missing", "never", "no", "false"):
        warnings.append(
            "pull is ignored: hosts pull from no registry; ship images with "
            "docker_image (source: local) before this task"
        )
    container, image = await observe(ctx, spec)
    if container is None and spec.state != "absent" and not spec.options.image:
        raise ModuleError(f"image is required to create container {spec.name}")
    plan = decide(spec, container, image)
    result = ModuleResult(changed=plan.changed, data={"container": container or {}})
    if warnings:
        result.data["warnings"] = warnings
    result.data["actions"] = [
        {step.action: step.network.name if step.network else step.reason} for step in plan.steps
    ]
    if ctx.diff and plan.changed:
        result.diff = [plan_diff(spec, plan)]
    if not plan.changed or ctx.check_mode:
        return result
    if plan.image_missing and plan.creates:
        raise ModuleError(
            f"image {spec.options.image} is not on {ctx.host}: hosts pull from no registry; "
            "ship it first with docker_image (name: ..., source: local)"
        )
    commands = step_commands(spec, plan)
    if not spec.detach and plan.running_after and spec.state == "started":
        return await _run_attached(ctx, spec, commands, result)
    after = None if spec.state == "absent" else docker.inspect_container(spec.name)
    done = await ctx.run(docker.chain(commands, after))
    if not done.ok:
        raise _failure(commands, done.stderr)
    result.data["container"] = {}
    if after is not None:
        try:
            result.data["container"] = inspect_one(done.stdout) or {}
        except ParseError as error:
            raise ModuleError(str(error)) from None
    return result


async def _run_attached(
    ctx: ModuleContext, spec: ContainerSpec, commands: list[Command], result: ModuleResult
) -> ModuleResult:
    """detach: false — wait for the container to exit and return its output; fail on a
    non-zero exit status, as community.docker does."""
    last = commands[-1]
    if last.parts[:3] == ("docker", "run", "--detach"):
        last = docker.run_container(spec.options, detach=False)
    else:
        last = Command.argv("docker", "start", "--attach", spec.name)
    if commands[:-1]:
        done = await ctx.run(docker.chain(commands[:-1]))
        if not done.ok:
            raise _failure(commands[:-1], done.stderr)
    ran = await ctx.run(last, timeout=None)
    output = ran.stdout + ran.stderr
    result.data["status"] = ran.rc
    if ran.rc != 0:
        raise ModuleError(f"container {spec.name} exited with status {ran.rc}: {output.strip()}")
    cleanup = [docker.remove_container(spec.name)] if spec.cleanup else []
    inspect = None if spec.cleanup else docker.inspect_container(spec.name)
    done = await ctx.run(docker.chain(cleanup, inspect))
    container = {} if spec.cleanup else (inspect_one(done.stdout) or {})
    if container or spec.cleanup:
        container = dict(container)
        container["Output"] = output
    result.data["container"] = container
    return result
