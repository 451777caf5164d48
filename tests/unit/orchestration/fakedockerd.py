"""The `docker` a fake host's shell runs: FakeDocker (tests/unit/playbook/docker) extended with
what orchestr's cluster scripts call (ps, inspect of several ids, version, image inspect -f,
stop/start/restart with --time, rm --force of a gone container), one per host, all served by a
Daemon thread in the test process. The `docker` in a fake host's PATH is a small bash client
(CLIENT) that sends it the host's name and its argv over TCP and prints what it answers: a
Python start per docker call cost ~0.5 s here with FakeDocker loaded, bash costs ~10 ms.
Every call is appended to the shared ordered log as it is executed."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "playbook" / "docker"))

from fakedocker import DockerError, FakeDocker, _NoSuch, image  # noqa: E402, F401

VERSION = "24.0.7"
STARTED_AT = "2026-01-01T00:00:00.000000000Z"


class ClusterDocker(FakeDocker):
    """FakeDocker plus the commands the cluster's observe, rollout and sweep scripts send."""

    def docker(self, words: list[str]) -> str:
        assert words[0] == "docker", words
        verb, rest = words[1], words[2:]
        if verb == "version":
            return VERSION
        if verb == "ps":
            return self.ps(rest)
        if verb == "inspect" and rest[:1] != ["--type"]:
            return self.inspect(rest)
        if verb == "image" and rest[:2] == ["inspect", "-f"]:
            assert rest[2] == "{{.Id}}", rest
            if rest[3] not in self.images:
                raise _NoSuch("", f"Error: No such image: {rest[3]}")
            return self.images[rest[3]]["Id"]
        if verb in ("stop", "restart"):
            name = self.find(rest[-1])
            state = self.containers[name]["State"]
            state.update(Running=verb == "restart", Status="running" if verb == "restart"
                         else "exited", ExitCode=0 if verb == "restart" else 143)  # fmt: skip
            return rest[-1]
        if verb == "start":
            name = self.find(rest[-1])
            self.containers[name]["State"].update(Running=True, Status="running", ExitCode=0)
            return rest[-1]
        if verb == "rm":
            assert "--force" in rest, rest
            try:
                del self.containers[self.find(rest[-1])]
            except DockerError:
                return ""  # docker rm --force of a container already gone exits 0
            return rest[-1]
        if verb in ("run", "create"):
            container_id = super().docker(words)
            container = next(c for c in self.containers.values() if c["Id"] == container_id)
            running = container["State"]["Running"]
            container["State"] = {"Status": "running" if running else "created",
                                  "Running": running, "ExitCode": 0,
                                  "StartedAt": STARTED_AT if running else "0001-01-01T00:00:00Z"}  # fmt: skip
            container["RestartCount"] = 0
            for network in container["NetworkSettings"]["Networks"].values():
                network["IPAddress"] = f"172.17.0.{self.counter + 1}"
            return container_id
        return super().docker(words)

    def find(self, key: str) -> str:
        """A container's name from its name or (a prefix of) its id."""
        if key in self.containers:
            return key
        for name, container in self.containers.items():
            if container["Id"].startswith(key):
                return name
        raise DockerError(f"Error response from daemon: No such container: {key}")

    def ps(self, words: list[str]) -> str:
        every, quiet, label, fmt = False, False, None, None
        index = 0
        while index < len(words):
            word = words[index]
            if word in ("-a", "--all"):
                every = True
            elif word in ("-q", "--quiet"):
                quiet = True
            elif word in ("-aq", "-qa"):
                every = quiet = True
            elif word == "--no-trunc":
                pass
            elif word == "--filter":
                index += 1
                kind, _, label = words[index].partition("=")
                assert kind == "label", words
            elif word == "--format":
                index += 1
                fmt = words[index]
            else:
                raise AssertionError(f"unknown docker ps argument {word}")
            index += 1
        found = []
        for container in self.containers.values():
            if not every and not container["State"]["Running"]:
                continue
            if label is not None:
                key, _, value = label.partition("=")
                if (container["Config"]["Labels"] or {}).get(key) != value:
                    continue
            found.append(container)
        if quiet:
            return "\n".join(c["Id"] for c in found)
        assert fmt == "{{.Ports}}", words
        lines = []
        for container in found:
            bindings = container["HostConfig"]["PortBindings"]
            lines.append(", ".join(f"0.0.0.0:{b['HostPort']}->{target}"
                                   for target, each in bindings.items() for b in each))  # fmt: skip
        return "\n".join(lines)

    def inspect(self, keys: list[str]) -> str:
        found, missing = [], []
        for key in keys:
            try:
                found.append(self.containers[self.find(key)])
            except DockerError:
                missing.append(key)
        printed = json.dumps(found)
        if missing:
            raise _NoSuch(printed, f"Error: No such object: {missing[0]}")
        return printed


# The `docker` of the fake hosts: a bash script (a Python start per call costs ~60 ms here, bash
# ~10) that sends the host's name and its argv, NUL-terminated and counted, to the daemon over
# TCP (bash's /dev/tcp), and gets back "rc stderr-lines stdout-lines", then those lines.
CLIENT = r"""#!/bin/bash
exec 3<>/dev/tcp/127.0.0.1/{port} || exit 125
printf '%s\0' "$FAKE_DOCKER_HOST" "$#" "$@" >&3
read -r rc errors lines <&3
while [ "$errors" -gt 0 ] && IFS= read -r line <&3; do
    printf '%s\n' "$line" >&2
    errors=$((errors - 1))
done
while [ "$lines" -gt 0 ] && IFS= read -r line <&3; do
    printf '%s\n' "$line"
    lines=$((lines - 1))
done
exit "$rc"
"""


class Daemon:
    """Every fake host's dockerd, in the test process (a thread serving CLIENT): `hosts` maps
    a host to its ClusterDocker; `record(host, argv)` is called for each command, in the order
    they run (calls are serialised, as a real daemon's state changes are); anything the fake
    does not understand is kept in `errors` (and fails the call with status 125)."""

    def __init__(self, hosts: dict[str, ClusterDocker], record: Callable[[str, list[str]], None]):
        self.hosts = hosts
        self.record = record
        self.errors: list[str] = []
        self.lock = threading.Lock()
        daemon = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while data.count(b"\0") < 2 or \
                        data.count(b"\0") < 2 + int(data.split(b"\0")[1]):  # fmt: skip
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                host, _, *argv = data.decode().split("\0")[:-1]
                rc, out, err = daemon.execute(host, argv)
                errors, lines = err.splitlines(), out.splitlines()
                self.request.sendall(f"{rc} {len(errors)} {len(lines)}\n".encode() +
                                     "".join(f"{line}\n" for line in errors + lines).encode())  # fmt: skip

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def execute(self, host: str, argv: list[str]) -> tuple[int, str, str]:
        words = ["docker", *argv]
        with self.lock:
            self.record(host, words)
            try:
                return 0, self.hosts[host].docker(words), ""
            except DockerError as failure:
                return 1, getattr(failure, "printed", ""), str(failure)
            except Exception:  # noqa: BLE001 - a command the fake does not know: the test fails
                self.errors.append(f"{host}: {words}\n{traceback.format_exc()}")
                return 125, "", f"fake docker: cannot run {words}"

    def client(self) -> str:
        return CLIENT.format(port=self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
