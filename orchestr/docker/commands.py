"""docker CLI commands as values (pure: built here, run elsewhere; tests compare exact strings)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from orchestr.docker.parse import SEPARATOR, format_duration
from orchestr.transport.command import Command, Part, Secret, Shell

# Environment variables whose values are never shown (a command's display, diffs).
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


@dataclass(frozen=True)
class Healthcheck:
    """A container's healthcheck as docker stores it: test in docker's list form, timings in ns."""

    test: tuple[str, ...] | None = None  # ("CMD-SHELL", line) | ("NONE",)
    interval: int | None = None
    timeout: int | None = None
    retries: int | None = None
    start_period: int | None = None


@dataclass(frozen=True)
class NetworkAttachment:
    """A network a container joins, with its fixed address and aliases there."""

    name: str
    ipv4_address: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerOptions:
    """What a container is created with: only what the user asked for (None = docker's default)."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    published_ports: tuple[str, ...] = ()
    publish_all_ports: bool = False
    volumes: tuple[str, ...] = ()
    restart_policy: str | None = None
    restart_retries: int | None = None
    healthcheck: Healthcheck | None = None
    networks: tuple[NetworkAttachment, ...] = ()
    network_mode: str | None = None
    hostname: str | None = None
    user: str | None = None
    working_dir: str | None = None
    memory: str | None = None
    cpus: float | None = None
    init: bool | None = None
    privileged: bool | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    stop_timeout: int | None = None
    secret_env: frozenset[str] = frozenset()  # env names masked besides those that look secret

    @property
    def first_network(self) -> NetworkAttachment | None:
        """The network `docker run --network` joins (the others are connected afterwards)."""
        if self.network_mode is None and self.networks:
            return self.networks[0]
        return None

    @property
    def later_networks(self) -> tuple[NetworkAttachment, ...]:
        return self.networks[1:] if self.first_network else self.networks

    @property
    def argv_command(self) -> tuple[str, ...] | None:
        """The words after the image. `--entrypoint` takes one word: the rest of a longer
        entrypoint goes before the command, which is where docker would run it anyway."""
        if self.entrypoint:
            return self.entrypoint[1:] + (self.command or ())
        return self.command


def restart_flag(policy: str | None, retries: int | None) -> str:
    """--restart's value: the retry count goes with on-failure only (docker refuses it else)."""
    policy = policy or "no"
    if policy == "on-failure" and retries:
        return f"{policy}:{retries}"
    return policy


def _cpus(value: float) -> str:
    return f"{value:g}"


def container_options(options: ContainerOptions) -> list[Part]:
    """The flags `docker run` and `docker create` share, in a fixed order."""
    words: list[Part] = ["--name", options.name]
    for flag, value in (
        ("--hostname", options.hostname),
        ("--user", options.user),
        ("--workdir", options.working_dir),
    ):
        if value is not None:
            words += [flag, value]
    for key, value in options.env:
        secret = looks_secret(key) or key in options.secret_env
        words += ["--env", Secret(f"{key}={value}") if secret else f"{key}={value}"]
    for key, value in options.labels:
        words += ["--label", f"{key}={value}"]
    if options.publish_all_ports:
        words.append("--publish-all")
    for port in options.published_ports:
        words += ["--publish", port]
    for volume in options.volumes:
        words += ["--volume", volume]
    if options.restart_policy is not None:
        words += ["--restart", restart_flag(options.restart_policy, options.restart_retries)]
    health = options.healthcheck
    if health is not None:
        if health.test == ("NONE",):
            words.append("--no-healthcheck")
        elif health.test is not None:
            words += ["--health-cmd", health.test[1]]
        for flag, ns in (
            ("--health-interval", health.interval),
            ("--health-timeout", health.timeout),
            ("--health-start-period", health.start_period),
        ):
            if ns is not None:
                words += [flag, format_duration(ns)]
        if health.retries is not None:
            words += ["--health-retries", str(health.retries)]
    if options.network_mode is not None:
        words += ["--network", options.network_mode]
    first = options.first_network
    if first is not None:
        words += ["--network", first.name]
        if first.ipv4_address:
            words += ["--ip", first.ipv4_address]
        for alias in first.aliases:
            words += ["--network-alias", alias]
    if options.memory is not None:
        words += ["--memory", options.memory]
    if options.cpus is not None:
        words += ["--cpus", _cpus(options.cpus)]
    if options.init:
        words.append("--init")
    if options.privileged:
        words.append("--privileged")
    for cap in options.cap_add:
        words += ["--cap-add", cap]
    for cap in options.cap_drop:
        words += ["--cap-drop", cap]
    if options.stop_timeout is not None:
        words += ["--stop-timeout", str(options.stop_timeout)]
    if options.entrypoint is not None:
        words += ["--entrypoint", options.entrypoint[0] if options.entrypoint else ""]
    words.append(options.image)
    words += list(options.argv_command or ())
    return words


def run_container(options: ContainerOptions, *, detach: bool = True) -> Command:
    head: list[Part] = ["docker", "run", "--detach"] if detach else ["docker", "run"]
    return Command(tuple(head + container_options(options)))


def create_container(options: ContainerOptions) -> Command:
    return Command(("docker", "create", *container_options(options)))


def start_container(name: str) -> Command:
    return Command.argv("docker", "start", name)


def stop_container(name: str, timeout: int | None = None) -> Command:
    if timeout is None:
        return Command.argv("docker", "stop", name)
    return Command.argv("docker", "stop", "--time", str(timeout), name)


def kill_container(name: str) -> Command:
    return Command.argv("docker", "kill", name)


def restart_container(name: str, timeout: int | None = None) -> Command:
    if timeout is None:
        return Command.argv("docker", "restart", name)
    return Command.argv("docker", "restart", "--time", str(timeout), name)


def remove_container(name: str, *, volumes: bool = False) -> Command:
    """Force: a container that stopped on its own between observe and act still goes."""
    return Command.argv("docker", "rm", "--force", *(["--volumes"] if volumes else []), name)


def update_container(
    name: str,
    *,
    memory: int | None = None,
    cpus: float | None = None,
    restart: str | None = None,
) -> Command:
    """`docker update` for what can change in place (no recreate): memory, cpus, restart."""
    words = ["docker", "update"]
    if memory is not None:
        # docker run gives --memory a swap limit of twice as much; keep that, or a larger
        # memory would be refused for exceeding the old swap limit.
        words += ["--memory", str(memory), "--memory-swap", str(2 * memory)]
    if cpus is not None:
        words += ["--cpus", _cpus(cpus)]
    if restart is not None:
        words += ["--restart", restart]
    return Command.argv(*words, name)


def connect_network(container: str, network: NetworkAttachment) -> Command:
    words = ["docker", "network", "connect"]
    if network.ipv4_address:
        words += ["--ip", network.ipv4_address]
    for alias in network.aliases:
        words += ["--alias", alias]
    return Command.argv(*words, network.name, container)


def disconnect_network(container: str, network: str, *, force: bool = False) -> Command:
    words = ["docker", "network", "disconnect", *(["--force"] if force else [])]
    return Command.argv(*words, network, container)


def inspect_container(name: str) -> Command:
    return Command.argv("docker", "inspect", "--type", "container", name)


def inspect_image(reference: str) -> Command:
    return Command.argv("docker", "image", "inspect", reference)


def remove_image(reference: str, *, force: bool = False) -> Command:
    return Command.argv("docker", "image", "rm", *(["--force"] if force else []), reference)


def inspect_network(name: str) -> Command:
    return Command.argv("docker", "network", "inspect", name)


def create_network(
    name: str,
    *,
    driver: str | None = None,
    ipam: Sequence[dict[str, str]] = (),
    internal: bool = False,
    attachable: bool = False,
    labels: Sequence[tuple[str, str]] = (),
    options: Sequence[tuple[str, str]] = (),
) -> Command:
    words = ["docker", "network", "create"]
    if driver is not None:
        words += ["--driver", driver]
    for pool in ipam:
        for flag, key in (
            ("--subnet", "subnet"),
            ("--gateway", "gateway"),
            ("--ip-range", "iprange"),
        ):
            if pool.get(key):
                words += [flag, pool[key]]
    if internal:
        words.append("--internal")
    if attachable:
        words.append("--attachable")
    for key, value in labels:
        words += ["--label", f"{key}={value}"]
    for key, value in options:
        words += ["--opt", f"{key}={value}"]
    return Command.argv(*words, name)


def remove_network(name: str) -> Command:
    return Command.argv("docker", "network", "rm", name)


def observe(*commands: Command) -> Command:
    """Several inspections in one round trip, their outputs separated (parse.sections)."""
    parts: list[Part] = []
    for index, command in enumerate(commands):
        if index:
            parts += [Shell(";"), "echo", SEPARATOR, Shell(";")]
        parts += command.parts
    return Command(tuple(parts))


def chain(commands: Sequence[Command], then: Command | None = None) -> Command:
    """Commands run in order, each only if the one before succeeded, their output discarded;
    then `then` (an inspect) whose output is what the chain prints."""
    parts: list[Part] = []
    for command in commands:
        if parts:
            parts.append(Shell("&&"))
        parts += [*command.parts, Shell(">/dev/null")]
    if then is not None:
        if parts:
            parts.append(Shell("&&"))
        parts += then.parts
    return Command(tuple(parts))
