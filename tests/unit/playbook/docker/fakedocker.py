"""A fake host with a fake dockerd for module tests: it reads the docker commands modules send
(as Command values) and keeps containers, images and networks the way dockerd records them
(inspect JSON), so a test can act, inspect and decide again without a real daemon. It is written
from docker's documented behaviour, not from the module's comparison code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orchestr.docker.parse import SEPARATOR, parse_duration, parse_port_spec, parse_size
from orchestr.transport.base import Result
from orchestr.transport.command import Command, Secret, Shell, as_command

VALUE_FLAGS = {
    "--name", "--hostname", "--user", "--workdir", "--env", "--label", "--publish", "--volume",
    "--restart", "--health-cmd", "--health-interval", "--health-timeout", "--health-start-period",
    "--health-retries", "--network", "--ip", "--network-alias", "--memory", "--cpus", "--cap-add",
    "--cap-drop", "--stop-timeout", "--entrypoint",
}  # fmt: skip
SWITCHES = {"--detach", "--publish-all", "--no-healthcheck", "--init", "--privileged"}


class DockerError(Exception):
    pass


def image(image_id: str, **config: Any) -> dict[str, Any]:
    base = {"Env": None, "Cmd": None, "Entrypoint": None, "Labels": None, "Volumes": None}
    return {"Id": image_id, "Config": base | config}


@dataclass
class FakeDocker:
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: int = 0

    # -- commands ------------------------------------------------------------------------

    def execute(self, command: Command) -> Result:
        """Run a command line: segments joined by ; and &&, outputs to /dev/null or printed."""
        out: list[str] = []
        err: list[str] = []
        rc = 0
        words: list[str] = []
        quiet = False
        skip = False

        def finish() -> None:
            nonlocal rc, words, quiet
            if words and not skip:
                try:
                    printed = self.docker(words)
                    rc = 0
                except DockerError as error:
                    printed, rc = getattr(error, "printed", ""), 1
                    err.append(str(error))
                if printed and not quiet:
                    out.append(printed)
            words, quiet = [], False

        for part in command.parts:
            if isinstance(part, Shell):
                if part.text == ">/dev/null":
                    quiet = True
                elif part.text in (";", "&&"):
                    finish()
                    skip = part.text == "&&" and rc != 0
                else:
                    raise AssertionError(f"unexpected shell text {part.text!r}")
            else:
                words.append(part.value if isinstance(part, Secret) else str(part))
        finish()
        return Result(rc, "\n".join(out) + ("\n" if out else ""), "\n".join(err), 0.0)

    def docker(self, words: list[str]) -> str:
        if words[:2] == ["echo", SEPARATOR]:
            return SEPARATOR
        assert words[0] == "docker", words
        verb, rest = words[1], words[2:]
        if verb == "inspect":
            assert rest[:2] == ["--type", "container"]
            if rest[2] not in self.containers:
                raise _NoSuch("[]", f"Error: No such object: {rest[2]}")
            return json.dumps([self.containers[rest[2]]])
        if verb == "image" and rest[0] == "inspect":
            if rest[1] not in self.images:
                raise _NoSuch("[]", f"Error: No such image: {rest[1]}")
            return json.dumps([self.images[rest[1]]])
        if verb in ("run", "create"):
            return self.create(rest, start=verb == "run")
        if verb == "network":
            return self.network(rest)
        name = rest[-1]
        if name not in self.containers:
            raise DockerError(f"Error response from daemon: No such container: {name}")
        container = self.containers[name]
        if verb in ("start", "restart"):
            container["State"]["Running"] = True
        elif verb in ("stop", "kill"):
            container["State"]["Running"] = False
        elif verb == "rm":
            assert "--force" in rest
            del self.containers[name]
        elif verb == "update":
            self.update(container, rest[:-1])
        else:
            raise AssertionError(f"unknown docker verb {verb}")
        return name

    def create(self, words: list[str], start: bool) -> str:
        flags: list[tuple[str, str | None]] = []
        index = 0
        while words[index].startswith("--"):
            flag = words[index]
            if flag in SWITCHES:
                flags.append((flag, None))
                index += 1
            else:
                assert flag in VALUE_FLAGS, f"unknown flag {flag}"
                flags.append((flag, words[index + 1]))
                index += 2
        reference, args = words[index], words[index + 1 :]
        assert ("--detach", None) in flags if start else ("--detach", None) not in flags
        if reference not in self.images:
            raise DockerError(f"Unable to find image '{reference}' locally")
        got = _Flags(flags)
        name = got.one("--name")
        if name in self.containers:
            raise DockerError(f'Conflict. The container name "/{name}" is already in use')
        picture = self.images[reference]["Config"]
        self.counter += 1
        container_id = f"{self.counter:012x}"
        env = dict(entry.split("=", 1) for entry in picture.get("Env") or [])
        env |= dict(entry.split("=", 1) for entry in got.all("--env"))
        entrypoint_set = "--entrypoint" in got.names
        health: dict[str, Any] | None = None
        if "--no-healthcheck" in got.names:
            health = {"Test": ["NONE"]}
        elif got.names & {"--health-cmd", "--health-interval", "--health-timeout",
                          "--health-start-period", "--health-retries"}:  # fmt: skip
            health = {}
            if "--health-cmd" in got.names:
                health["Test"] = ["CMD-SHELL", got.one("--health-cmd")]
            for flag, key in (("--health-interval", "Interval"), ("--health-timeout", "Timeout"),
                              ("--health-start-period", "StartPeriod")):  # fmt: skip
                if flag in got.names:
                    health[key] = parse_duration(got.one(flag))
            if "--health-retries" in got.names:
                health["Retries"] = int(got.one("--health-retries"))
        bindings: dict[str, list[dict[str, str]]] = {}
        for spec in got.all("--publish"):
            for binding in parse_port_spec(spec):
                bindings.setdefault(binding.container, []).append(
                    {"HostIp": binding.host_ip, "HostPort": binding.host_port}
                )
        volumes = dict(picture.get("Volumes") or {})
        binds = []
        for volume in got.all("--volume"):
            if ":" in volume:
                binds.append(volume)
            else:
                volumes[volume] = {}
        policy, _, count = (got.one("--restart") or "no").partition(":")
        mode = got.one("--network") or "default"
        network_name = "bridge" if mode == "default" else mode
        if network_name not in ("bridge", "host", "none") and network_name not in self.networks:
            raise DockerError(f"network {network_name} not found")
        ip = got.one("--ip")
        aliases = got.all("--network-alias")
        entrypoint = got.one("--entrypoint")
        container = {
            "Id": container_id,
            "Name": f"/{name}",
            "Image": self.images[reference]["Id"],
            "State": {"Running": start, "Status": "running" if start else "created"},
            "Config": {
                "Hostname": got.one("--hostname") or container_id,
                "User": got.one("--user") or "",
                "WorkingDir": got.one("--workdir") or "",
                "Env": [f"{k}={v}" for k, v in env.items()] or None,
                "Cmd": args or (None if entrypoint_set else picture.get("Cmd")),
                "Entrypoint": ([entrypoint] if entrypoint else None)
                if entrypoint_set
                else picture.get("Entrypoint"),
                "Labels": dict(picture.get("Labels") or {})
                | dict(label.split("=", 1) for label in got.all("--label")),
                "Volumes": volumes or None,
                "Image": reference,
            },
            "HostConfig": {
                "Binds": binds or None,
                "PortBindings": bindings,
                "PublishAllPorts": "--publish-all" in got.names,
                "RestartPolicy": {"Name": policy, "MaximumRetryCount": int(count or 0)},
                "NetworkMode": mode,
                "Memory": parse_size(got.one("--memory") or 0),
                "MemorySwap": 0,
                "NanoCpus": round(float(got.one("--cpus") or 0) * 1e9),
                "Init": True if "--init" in got.names else None,
                "Privileged": "--privileged" in got.names,
                "CapAdd": [_cap(cap) for cap in got.all("--cap-add")] or None,
                "CapDrop": [_cap(cap) for cap in got.all("--cap-drop")] or None,
            },
            "NetworkSettings": {
                "Networks": {
                    network_name: {
                        "IPAMConfig": {"IPv4Address": ip} if ip else None,
                        "Aliases": aliases or None,
                    }
                }
            },
        }
        if health is not None:
            container["Config"]["Healthcheck"] = health
        if "--stop-timeout" in got.names:
            container["Config"]["StopTimeout"] = int(got.one("--stop-timeout"))
        self.containers[name] = container
        return container_id

    def update(self, container: dict[str, Any], words: list[str]) -> None:
        host = container["HostConfig"]
        for flag, value in zip(words[::2], words[1::2], strict=True):
            if flag == "--memory":
                host["Memory"] = parse_size(value)
            elif flag == "--memory-swap":
                host["MemorySwap"] = parse_size(value)
            elif flag == "--cpus":
                host["NanoCpus"] = round(float(value) * 1e9)
            elif flag == "--restart":
                policy, _, count = value.partition(":")
                host["RestartPolicy"] = {"Name": policy, "MaximumRetryCount": int(count or 0)}
            else:
                raise AssertionError(f"unknown update flag {flag}")

    def network(self, words: list[str]) -> str:
        verb, rest = words[0], words[1:]
        if verb in ("connect", "disconnect"):
            network, name = rest[-2], rest[-1]
            if name not in self.containers:
                raise DockerError(f"No such container: {name}")
            attached = self.containers[name]["NetworkSettings"]["Networks"]
            if verb == "disconnect":
                if network not in attached:
                    raise DockerError(f"container {name} is not connected to {network}")
                del attached[network]
                return ""
            if network in attached:
                raise DockerError(f"endpoint with name {name} already exists in network {network}")
            if network != "bridge" and network not in self.networks:
                raise DockerError(f"network {network} not found")
            got = _Flags(list(zip(rest[:-2:2], rest[1:-2:2], strict=True)))
            ip = got.one("--ip")
            attached[network] = {
                "IPAMConfig": {"IPv4Address": ip} if ip else None,
                "Aliases": got.all("--alias") or None,
            }
            return ""
        raise AssertionError(f"unknown network verb {verb}")


class _NoSuch(DockerError):
    """docker inspect of something missing: prints [] and an error, exits 1."""

    def __init__(self, printed: str, message: str):
        super().__init__(message)
        self.printed = printed


class _Flags:
    def __init__(self, flags: list[tuple[str, str | None]]):
        self.flags = flags
        self.names = {flag for flag, _ in flags}

    def one(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return [value or "" for flag, value in self.flags if flag == name]


def _cap(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") or upper == "ALL" else f"CAP_{upper}"


@dataclass
class FakeContext:
    """A ModuleContext whose host is a FakeDocker; records every command it is asked to run."""

    docker: FakeDocker = field(default_factory=FakeDocker)
    check_mode: bool = False
    diff: bool = True
    host: str = "node1"
    variables: dict[str, Any] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    push_result: dict[str, Any] = field(default_factory=dict)

    async def run(self, command: Any, *, stdin: Any = None, timeout: float | None = None) -> Result:
        command = as_command(command)
        self.commands.append(command.display())
        return self.docker.execute(command)

    async def push_image(self, reference: str) -> dict[str, Any]:
        self.pushed.append(reference)
        return dict(self.push_result)
