"""A service spec from the `service` task's arguments: validated into a ServiceSpec (every
problem named by its field, with a hint), serialised for the store, and hashed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from orchestr.cluster.model import Resources
from orchestr.cluster.spec_types import (
    Affinity,
    Constraint,
    HealthSpec,
    PortSpec,
    ServiceSpec,
    UpdatePolicy,
)

# A DNS label: services become SERVICE.ZONE names and container names SERVICE.SLOT.eEPOCH.
SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MODES = ("replicated", "global")
STRATEGIES = ("spread", "binpack", "random")
ORDERS = ("stop-first", "start-first")
FAILURE_ACTIONS = ("rollback", "pause", "continue")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
HEALTH_KINDS = ("http", "tcp", "exec", "docker")
STATES = ("present", "absent")

# The task's arguments (what the loader checks names and shapes of before any host is touched).
ARGUMENTS: dict[str, str] = {
    "name": "str", "image": "str", "command": "raw", "env": "dict", "secret_env": "list",
    "labels": "dict", "ports": "list", "volumes": "list", "restart": "str", "mode": "str",
    "replicas": "int", "resources": "dict", "constraints": "list", "preferences": "list",
    "affinity": "list", "anti_affinity": "list", "max_per_host": "int", "strategy": "str",
    "health": "dict", "update": "dict", "stop_timeout": "int", "state": "str", "lb_port": "int",
}  # fmt: skip


# Planning is linear in replicas, but a typo such as 1000000 must not run for minutes and then
# try to start a million containers: a clear refusal instead.
MAX_REPLICAS = 10_000


class SpecError(ValueError):
    """One thing wrong with a service spec: the field's path, what is wrong, and a hint."""

    def __init__(self, field: str, message: str, hint: str = ""):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.hint = hint


def parse_service(args: Mapping[str, Any], location: str = "") -> ServiceSpec:
    """The ServiceSpec the arguments describe, or SpecError for the first problem found."""
    from orchestr.cluster.constraints import parse_constraint

    unknown = sorted(set(args) - set(ARGUMENTS))
    if unknown:
        raise SpecError(unknown[0], "not a service argument", "arguments: " + ", ".join(ARGUMENTS))
    name = _required_str(args, "name")
    if not SERVICE_NAME.match(name):
        raise SpecError("name", f"{name!r} is not a valid service name",
                        "lower-case letters, digits and '-', as a DNS label")  # fmt: skip
    state = _choice(args, "state", STATES, "present")
    image = str(args.get("image") or "")
    if not image and state == "present":
        raise SpecError("image", "required", "e.g. image: orchestr-demo:1")
    env = _string_map(args, "env")
    secret_env = frozenset(str(n) for n in _list(args, "secret_env")) | _vaulted_names(args)
    mode = _choice(args, "mode", MODES, "replicated")
    replicas = _int(args, "replicas", 1, minimum=0)
    if replicas > MAX_REPLICAS:
        raise SpecError("replicas", f"{replicas} is more than orchestr places ({MAX_REPLICAS})",
                        "a typo? for more, split the service in several")  # fmt: skip
    if mode == "global" and "replicas" in args:
        raise SpecError("replicas", "a global service runs one replica per eligible host",
                        "drop replicas, or use mode: replicated")  # fmt: skip
    constraints: list[Constraint] = []
    for index, text in enumerate(_list(args, "constraints")):
        try:
            constraints.append(parse_constraint(str(text)))
        except ValueError as error:
            raise SpecError(f"constraints[{index}]", str(error),
                            "e.g. 'zone == a', 'facts.os_id in [debian, ubuntu]'") from None  # fmt: skip
    affinity = _affinities(args, "affinity", anti=False, own=name)
    affinity += _affinities(args, "anti_affinity", anti=True, own=name)
    max_per_host = args.get("max_per_host")
    return ServiceSpec(
        name=name,
        image=image,
        command=_command(args.get("command")),
        env=tuple(sorted(env.items())),
        secret_env=secret_env,
        labels=tuple(sorted(_string_map(args, "labels").items())),
        ports=tuple(_port(value, f"ports[{i}]") for i, value in enumerate(_list(args, "ports"))),
        volumes=tuple(str(v) for v in _list(args, "volumes")),
        restart=_choice(args, "restart", RESTART_POLICIES, "unless-stopped"),
        mode=mode,
        replicas=replicas,
        resources=_resources(args.get("resources") or {}),
        constraints=tuple(constraints),
        preferences=tuple(
            _preference(v, f"preferences[{i}]") for i, v in enumerate(_list(args, "preferences"))
        ),  # fmt: skip
        affinity=tuple(affinity),
        max_per_host=None if max_per_host is None else _int(args, "max_per_host", 1, minimum=1),
        strategy=_choice(args, "strategy", STRATEGIES, "spread"),
        health=_health(args.get("health")),
        update=_update(args.get("update") or {}),
        stop_timeout=None if args.get("stop_timeout") is None else _int(args, "stop_timeout", 10),
        lb_port=None if args.get("lb_port") is None else _port_number(args["lb_port"], "lb_port"),
        state=state,
        location=location,
    )


def spec_hash(spec: ServiceSpec) -> str:
    """What a replica is made of, hashed: a change here replaces replicas (a rolling update).
    Scale, placement and the update policy are left out: changing them moves nothing by itself."""
    made_of = {
        "image": spec.image, "command": spec.command, "env": spec.env, "labels": spec.labels,
        "ports": [asdict(p) for p in spec.ports], "volumes": spec.volumes,
        "restart": spec.restart, "resources": asdict(spec.resources),
        "health": asdict(spec.health) if spec.health else None, "stop_timeout": spec.stop_timeout,
    }  # fmt: skip
    text = json.dumps(made_of, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def spec_to_dict(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as stored (JSON-able); spec_from_dict reads it back unchanged."""
    data = asdict(spec)
    data.pop("extra", None)
    data["secret_env"] = sorted(spec.secret_env)
    return data


def spec_from_dict(data: Mapping[str, Any]) -> ServiceSpec:
    def tuples(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(tuples(v) for v in value)
        return value

    health = data.get("health")
    return ServiceSpec(
        name=data["name"],
        image=data["image"],
        command=tuples(data.get("command")),
        env=tuples(data.get("env", [])),
        secret_env=frozenset(data.get("secret_env", [])),
        labels=tuples(data.get("labels", [])),
        ports=tuple(
            PortSpec(p["target"], p.get("published"), tuples(p.get("published_range")))
            for p in data.get("ports", [])
        ),  # fmt: skip
        volumes=tuples(data.get("volumes", [])),
        restart=data.get("restart", "unless-stopped"),
        mode=data.get("mode", "replicated"),
        replicas=data.get("replicas", 1),
        resources=Resources(**data.get("resources", {})),
        constraints=tuple(
            Constraint(c["attribute"], c["op"], tuples(c.get("value")), c["text"])
            for c in data.get("constraints", [])
        ),  # fmt: skip
        preferences=tuples(data.get("preferences", [])),
        affinity=tuple(Affinity(**a) for a in data.get("affinity", [])),
        max_per_host=data.get("max_per_host"),
        strategy=data.get("strategy", "spread"),
        health=HealthSpec(**{**health, "command": tuples(health.get("command", []))})
        if health
        else None,
        update=UpdatePolicy(**data.get("update", {})),
        stop_timeout=data.get("stop_timeout"),
        lb_port=data.get("lb_port"),
        state=data.get("state", "present"),
        location=data.get("location", ""),
    )


def _vaulted_names(args: Mapping[str, Any]) -> frozenset[str]:
    """Env names whose value holds a decrypted vault value: secret, as if declared so."""
    from orchestr.vault.secret import contains_secret

    env = args.get("env")
    if not isinstance(env, Mapping):
        return frozenset()
    return frozenset(str(k) for k, v in env.items() if contains_secret(v))


def masked_env(spec: ServiceSpec) -> dict[str, str]:
    """The env as shown to people: secret values (by name or by declaration) as ********."""
    from orchestr.docker.commands import looks_secret

    return {k: "********" if k in spec.secret_env or looks_secret(k) else v for k, v in spec.env}


# -- fields --------------------------------------------------------------------------------


def _required_str(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if value is None or str(value).strip() == "":
        raise SpecError(key, "required")
    return str(value).strip()


def _choice(args: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str,
            prefix: str = "") -> str:  # fmt: skip
    value = args.get(key)
    if value is None:
        return default
    text = str(value).strip().lower()
    if text not in allowed:
        raise SpecError(prefix + key, f"{value!r} is not one of {', '.join(allowed)}")
    return text


def _int(args: Mapping[str, Any], key: str, default: int, minimum: int = 0,
         prefix: str = "") -> int:  # fmt: skip
    value = args.get(key, default)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SpecError(prefix + key, f"{value!r} is not a whole number") from None
    if number < minimum:
        raise SpecError(prefix + key, f"{number} is below {minimum}")
    return number


def _list(args: Mapping[str, Any], key: str) -> list[Any]:
    value = args.get(key)
    if value is None:
        return []
    if isinstance(value, str | int):
        return [value]
    if not isinstance(value, list | tuple):
        raise SpecError(key, "a list is expected")
    return list(value)


def _string_map(args: Mapping[str, Any], key: str) -> dict[str, str]:
    value = args.get(key) or {}
    if not isinstance(value, Mapping):
        raise SpecError(key, "a mapping is expected", f"e.g. {key}: {{NAME: value}}")
    for name, item in value.items():
        if isinstance(item, Mapping | list | tuple | set):
            # Its Python repr would reach the container: never what the author meant.
            raise SpecError(f"{key}.{name}", f"a {type(item).__name__} is not a value",
                            "give a string; for JSON, use {{ value | to_json }}")  # fmt: skip
    return {str(k): _scalar_text(v) for k, v in value.items()}


def _scalar_text(value: Any) -> str:
    # YAML reads `DEBUG: true` as a boolean; the container must see what docker would.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _command(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        import shlex

        return tuple(shlex.split(value))
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise SpecError("command", "a string or a list of words is expected")


def _port_number(value: Any, field: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SpecError(field, f"{value!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise SpecError(field, f"{number} is not within 1-65535")
    return number


def _port(value: Any, field: str) -> PortSpec:
    """ "8080:80" (fixed), "30000-30099:80" (one free port from the range per replica), 80 (not
    published), or {target: 80, published: 8080 | "30000-30099"}."""
    hint = "e.g. '8080:80', '30000-30099:80', or {target: 80, published: 8080}"
    if isinstance(value, Mapping):
        if "target" not in value:
            raise SpecError(field, "target (the container port) is required", hint)
        unknown = sorted(set(value) - {"target", "published"})
        if unknown:
            raise SpecError(f"{field}.{unknown[0]}", "not a port setting (only tcp ports are "
                                                     "published)", hint)  # fmt: skip
        target = _port_number(value["target"], f"{field}.target")
        published = value.get("published")
        host = None if published is None else str(published)
    elif isinstance(value, int | str):
        text = str(value).strip()
        if text.endswith("/tcp"):
            text = text[:-4]
        if "/" in text:
            raise SpecError(field, f"{value!r}: only tcp ports are published", hint)
        host, _, container = text.rpartition(":")
        target = _port_number(container, field)
        host = host or None
    else:
        raise SpecError(field, f"{value!r} is not a port", hint)
    if host is None:
        return PortSpec(target)
    if "-" in host:
        low_text, _, high_text = host.partition("-")
        low, high = _port_number(low_text, field), _port_number(high_text, field)
        if low > high:
            raise SpecError(field, f"the range {host} is empty", hint)
        return PortSpec(target, published_range=(low, high))
    return PortSpec(target, published=_port_number(host, field))


def _resources(value: Any) -> Resources:
    if not isinstance(value, Mapping):
        raise SpecError("resources", "a mapping is expected", "e.g. {cpus: 0.5, memory: 256M}")
    unknown = set(value) - {"cpus", "memory"}
    if unknown:
        raise SpecError(f"resources.{sorted(unknown)[0]}", "not a resource", "cpus, memory")
    try:
        cpus = float(value.get("cpus", 0) or 0)
    except (TypeError, ValueError):
        raise SpecError("resources.cpus", f"{value['cpus']!r} is not a number") from None
    if cpus < 0:
        raise SpecError("resources.cpus", "cannot be negative")
    return Resources(cpus=cpus, memory_mb=_memory_mb(value.get("memory", 0)))


def _memory_mb(value: Any) -> int:
    """256M, 1G, 512MB, 1.5GiB; a bare number is MB."""
    text = str(value or 0).strip().upper().removesuffix("IB").removesuffix("B")
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    factor = 1.0
    if text and text[-1] in scale:
        factor, text = scale[text[-1]], text[:-1]
    try:
        number = float(text)
    except ValueError:
        raise SpecError("resources.memory", f"{value!r} is not a size",
                        "e.g. 256M or 1G") from None  # fmt: skip
    if number < 0:
        raise SpecError("resources.memory", "cannot be negative")
    return int(number * factor)


def _seconds(value: Any, field: str) -> float:
    """2, 2.5, "2s", "500ms", "1m", "1m30s"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
        if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
            try:
                seconds = float(text)
            except ValueError:
                raise SpecError(field, f"{value!r} is not a duration",
                                "e.g. 2s, 500ms, 1m30s") from None  # fmt: skip
        else:
            units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
            seconds = sum(float(n) * units[u] for n, u in parts)
    if seconds < 0:
        raise SpecError(field, "cannot be negative")
    return seconds


def _preference(value: Any, field: str) -> str:
    """`zone`, or Swarm's form {spread: zone}."""
    if isinstance(value, Mapping):
        if set(value) != {"spread"}:
            raise SpecError(field, "only spread preferences exist", "e.g. {spread: zone}")
        value = value["spread"]
    text = str(value).strip()
    if not text:
        raise SpecError(field, "names a host attribute to spread over", "e.g. zone")
    return text


def _affinities(args: Mapping[str, Any], key: str, *, anti: bool, own: str) -> list[Affinity]:
    """Service names (hard), or {service: NAME, hard: false} for a preference."""
    found = []
    for index, value in enumerate(_list(args, key)):
        field = f"{key}[{index}]"
        hard = True
        if isinstance(value, Mapping):
            if "service" not in value:
                raise SpecError(field, "service is required", "e.g. {service: db, hard: false}")
            hard = _bool(value.get("hard", True), f"{field}.hard")
            value = value["service"]
        name = str(value).strip()
        if name == own:
            raise SpecError(field, "a service cannot name itself",
                            "use max_per_host to keep its replicas apart")  # fmt: skip
        found.append(Affinity(service=name, anti=anti, hard=hard))
    return found


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "on", "1"):
        return True
    if text in ("no", "false", "off", "0"):
        return False
    raise SpecError(field, f"{value!r} is not a boolean")


_HEALTH_KEYS = {"http", "tcp", "exec", "docker", "port", "path", "interval", "timeout", "fall",
                "rise", "start_period"}  # fmt: skip


def _health(value: Any) -> HealthSpec | None:
    """{http: /healthz, port: 80}, {tcp: 5432}, {exec: "pg_isready"}, {docker: true}, with
    interval/timeout/fall/rise/start_period as in HAProxy."""
    if value is None:
        return None
    hint = "e.g. {http: /healthz, port: 80, interval: 2s, fall: 3, rise: 2}"
    if not isinstance(value, Mapping):
        raise SpecError("health", "a mapping is expected", hint)
    unknown = sorted(set(value) - _HEALTH_KEYS)
    if unknown:
        raise SpecError(f"health.{unknown[0]}", "not a health check setting", hint)
    kinds = [k for k in HEALTH_KINDS if k in value]
    if len(kinds) != 1:
        raise SpecError("health", "name exactly one kind: http, tcp, exec or docker", hint)
    kind = kinds[0]
    port = value.get("port")
    path = "/"
    command: tuple[str, ...] = ()
    if kind == "http":
        path = str(value["http"] or "/")
        if not path.startswith("/"):
            raise SpecError("health.http", f"{path!r} is not a path", "e.g. /healthz")
    elif kind == "tcp":
        port = value["tcp"] if port is None else port
    elif kind == "exec":
        command = _command(value["exec"]) or ()
        if not command:
            raise SpecError("health.exec", "a command is required", "e.g. exec: pg_isready")
    elif not _bool(value["docker"], "health.docker"):
        raise SpecError("health.docker", "docker: true uses the image's own HEALTHCHECK")
    return HealthSpec(
        kind=kind,
        port=None if port is None or port is True else _port_number(port, "health.port"),
        path=path,
        command=command,
        interval=_seconds(value.get("interval", 2), "health.interval"),
        timeout=_seconds(value.get("timeout", 2), "health.timeout"),
        fall=_int(value, "fall", 3, minimum=1, prefix="health."),
        rise=_int(value, "rise", 2, minimum=1, prefix="health."),
        start_period=_seconds(value.get("start_period", 0), "health.start_period"),
    )


_UPDATE_KEYS = {"parallelism", "delay", "order", "monitor", "failure_action", "max_failure_ratio"}


def _update(value: Any) -> UpdatePolicy:
    hint = "e.g. {parallelism: 2, order: start-first, monitor: 5s, failure_action: rollback}"
    if not isinstance(value, Mapping):
        raise SpecError("update", "a mapping is expected", hint)
    unknown = sorted(set(value) - _UPDATE_KEYS)
    if unknown:
        raise SpecError(f"update.{unknown[0]}", "not an update setting", hint)
    try:
        ratio = float(value.get("max_failure_ratio", 0))
    except (TypeError, ValueError):
        raise SpecError("update.max_failure_ratio", "a number from 0 to 1 is expected") from None
    if not 0 <= ratio <= 1:
        raise SpecError("update.max_failure_ratio", "a number from 0 to 1 is expected")
    return UpdatePolicy(
        parallelism=_int(value, "parallelism", 1, minimum=1, prefix="update."),
        delay=_seconds(value.get("delay", 0), "update.delay"),
        order=_choice(value, "order", ORDERS, "stop-first", prefix="update."),
        monitor=_seconds(value.get("monitor", 5), "update.monitor"),
        failure_action=_choice(
            value, "failure_action", FAILURE_ACTIONS, "rollback", prefix="update."
        ),
        max_failure_ratio=ratio,
    )
