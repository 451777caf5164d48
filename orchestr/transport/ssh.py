"""SSH connections with asyncssh: one per host, many commands on it, every step bounded in time."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from orchestr.transport.base import (
    DEFAULT_COMMAND_TIMEOUT,
    CommandTimeout,
    Input,
    OnLine,
    Result,
    Unreachable,
    exchange,
    get_command,
    prepend,
    put_command,
)
from orchestr.transport.command import Become, Command, as_command
from orchestr.transport.settings import DEFAULT_CONNECT_TIMEOUT, ConnectionSettings

HOST_KEY_POLICIES = ("strict", "accept-new", "off")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_SSH_CONFIG = "~/.ssh/config"


@dataclass
class KeyCache:
    """Keys and known_hosts files read once per run and shared by every connection: re-reading
    and re-validating a key per host costs 6-130 ms of CPU each (LAB-NOTES)."""

    _keys: dict[str, asyncssh.SSHKey] = field(default_factory=dict)
    _known: dict[tuple[str, ...], asyncssh.SSHKnownHosts] = field(default_factory=dict)

    def keys(self, paths: tuple[str, ...]) -> list[asyncssh.SSHKey]:
        loaded = []
        for path in paths:
            full = os.path.expanduser(path)
            if full not in self._keys:
                try:
                    self._keys[full] = asyncssh.read_private_key(full)
                except FileNotFoundError:
                    raise Unreachable(f"private key file {path} does not exist") from None
                except (OSError, asyncssh.KeyImportError) as error:
                    raise Unreachable(f"cannot read private key {path}: {error}") from None
            loaded.append(self._keys[full])
        return loaded

    def known_hosts(self, paths: tuple[str, ...]) -> asyncssh.SSHKnownHosts:
        files = tuple(p for p in (os.path.expanduser(p) for p in paths) if os.path.exists(p))
        if files not in self._known:
            try:
                self._known[files] = asyncssh.read_known_hosts(list(files))
            except (OSError, ValueError) as error:
                raise Unreachable(f"cannot read known_hosts {', '.join(files)}: {error}") from None
        return self._known[files]

    def remember(self, files: tuple[str, ...], line: str) -> None:
        """Record a trusted-on-first-use key in the first known_hosts file (accept-new)."""
        target = Path(os.path.expanduser(files[0] if files else DEFAULT_KNOWN_HOSTS))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with target.open("a") as handle:
            handle.write(line)
        self._known = {}


class _HostKeyCheck(asyncssh.SSHClient):
    """asyncssh asks this only for a key that known_hosts does not already trust."""

    def __init__(self, policy: str, known: asyncssh.SSHKnownHosts):
        self.policy = policy
        self.known = known
        self.verdict = ""
        self.new_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host, addr, port, key) -> bool:  # noqa: ANN001
        trusted = self.known.match(host, addr, port)[0]
        if trusted:
            self.verdict = "changed"  # never accepted, whatever the policy
            return False
        if self.policy == "accept-new":
            self.new_key = key
            return True
        self.verdict = "unknown"
        return False


def _known_hosts_line(address: str, port: int, key: asyncssh.SSHKey) -> str:
    where = address if port == 22 else f"[{address}]:{port}"
    return f"{where} {key.export_public_key().decode().strip()}\n"


async def open_ssh(
    settings: ConnectionSettings,
    cache: KeyCache,
    *,
    policy: str = "strict",
    timeout: float | None = None,
) -> SSHConnection:
    """Connect, authenticate and check the host key; raises Unreachable with one clear reason."""
    timeout = timeout or settings.connect_timeout or DEFAULT_CONNECT_TIMEOUT
    policy = settings.host_key_policy if policy == "inventory" else policy
    policy = policy or "strict"
    where = f"{settings.address}:{settings.port or 22}"
    known_files = settings.known_hosts_files or (DEFAULT_KNOWN_HOSTS,)
    known = cache.known_hosts(known_files) if policy != "off" else None
    checker = _HostKeyCheck(policy, known) if known is not None else None
    config_files = [settings.config_file] if settings.config_file else [DEFAULT_SSH_CONFIG]
    options = {
        "port": settings.port or (),
        "username": settings.user or (),
        "client_keys": cache.keys(settings.key_files) if settings.key_files else (),
        "password": settings.password.value if settings.password else None,
        "known_hosts": known,
        "config": [
            os.path.expanduser(f) for f in config_files if os.path.exists(os.path.expanduser(f))
        ],
        "tunnel": settings.proxy_jump or (),
        "connect_timeout": timeout,
        "login_timeout": timeout,
        "keepalive_interval": 15,
        "keepalive_count_max": 3,
    }
    if checker is not None:
        options["client_factory"] = lambda: checker
    try:
        conn = await asyncssh.connect(settings.address, **options)
    except TimeoutError:
        raise Unreachable(f"{where}: connect timed out after {timeout:g} s") from None
    except asyncssh.HostKeyNotVerifiable:
        if checker is not None and checker.verdict == "changed":
            raise Unreachable(
                f"{where}: HOST KEY CHANGED: it does not match {', '.join(known_files)}",
                hint="if the host was rebuilt, remove its old line from known_hosts; "
                "it may also be an attack",
            ) from None
        raise Unreachable(
            f"{where}: host key unknown: not in {', '.join(known_files)}",
            hint="add it to known_hosts, or use --host-key-policy accept-new to trust it "
            "on first use",
        ) from None
    except asyncssh.PermissionDenied:
        raise Unreachable(
            f"{where}: authentication failed for user {settings.user or '(default)'}",
            hint="check ansible_user and ansible_ssh_private_key_file",
        ) from None
    except ConnectionRefusedError:
        raise Unreachable(
            f"{where}: connection refused (is sshd running?)", transient=True
        ) from None
    except (ConnectionResetError, asyncssh.ConnectionLost) as error:
        # sshd sheds handshakes beyond MaxStartups by closing them: worth a retry.
        raise Unreachable(f"{where}: connection dropped during handshake: {error}",
                          transient=True) from None  # fmt: skip
    except socket.gaierror as error:
        raise Unreachable(f"{where}: cannot resolve host name: {error.strerror}") from None
    except OSError as error:
        raise Unreachable(f"{where}: {error.strerror or error}") from None
    except asyncssh.Error as error:
        raise Unreachable(f"{where}: {error.reason}") from None
    if checker is not None and checker.new_key is not None:
        cache.remember(known_files, _known_hosts_line(settings.address, settings.port or 22,
                                                      checker.new_key))  # fmt: skip
    return SSHConnection(settings.name, conn, settings.become)


class SSHConnection:
    """An open connection to one host; commands run on channels of it, concurrently if asked."""

    def __init__(self, name: str, conn: asyncssh.SSHClientConnection, become: Become | None):
        self.name = name
        self._conn = conn
        self._become = become

    async def run(
        self,
        command: Command | str | list[str],
        *,
        stdin: Input = None,
        timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
        on_line: OnLine | None = None,
        become: bool | None = None,
    ) -> Result:
        final = as_command(command)
        use_become = self._become is not None if become is None else become
        if use_become:
            final, password = (self._become or Become()).wrap(final)
            if password is not None:
                stdin = prepend(password, stdin)
        started = time.monotonic()
        try:
            process = await self._conn.create_process(final.render(), encoding=None)
        except (OSError, asyncssh.Error) as error:
            raise Unreachable(f"connection lost: {error}") from None
        try:
            async with asyncio.timeout(timeout):
                rc, out, err = await _collect(process, stdin, on_line)
        except TimeoutError:
            process.close()
            raise CommandTimeout(f"command did not finish within {timeout:g} s") from None
        except (OSError, asyncssh.Error) as error:
            raise Unreachable(f"connection lost: {error}") from None
        return Result(rc, out, err, time.monotonic() - started)

    async def put(self, source: bytes | str, remote_path: str, mode: int = 0o644) -> None:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        result = await self.run(put_command(remote_path, mode), stdin=data)
        if not result.ok:
            raise OSError(f"cannot write {remote_path}: {result.stderr.strip()}")

    async def get(self, remote_path: str) -> bytes:
        process = await self._conn.create_process(get_command(remote_path).render(), encoding=None)
        done = await process.wait()
        if done.exit_status != 0:
            raise OSError(
                f"cannot read {remote_path}: {bytes(done.stderr or b'').decode().strip()}"
            )
        return bytes(done.stdout or b"")

    async def close(self) -> None:
        self._conn.close()
        await self._conn.wait_closed()


async def _collect(process, stdin: Input, on_line: OnLine | None) -> tuple[int, str, str]:  # noqa: ANN001
    out, err = await exchange(
        process.stdin, process.stdin.write_eof, process.stdout, process.stderr, stdin, on_line
    )
    await process.wait_closed()
    status = process.exit_status
    return (status if status is not None else -1), out, err
