"""SSH connections with asyncssh: one per host, many commands on it, every step bounded in time."""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncssh

from orchestr.transport.base import (
    CommandTimeout,
    Connection,
    Input,
    OnLine,
    Unreachable,
    exchange,
    get_command,
)
from orchestr.transport.command import Become
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

    def validate_host_public_key(self, host, addr, port, key) -> bool:
        trusted = self.known.match(host, addr, port)[0]
        if trusted:
            self.verdict = "changed"  # never accepted, whatever the policy
            return False
        if self.policy == "accept-new":
            self.new_key = key
            return True
        if self.policy == "off":  # an unknown key is taken, and not remembered
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
    """Connect (through ProxyJump hops if any), authenticate and check the host key; raises
    Unreachable with one clear reason."""
    timeout = timeout or settings.connect_timeout or DEFAULT_CONNECT_TIMEOUT
    hops: list[SSHConnection] = []
    try:
        for hop in settings.proxy_jump.split(",") if settings.proxy_jump else ():
            # Each hop is checked exactly as strictly as the host behind it, with its keys.
            user, host, port = parse_jump(hop.strip())
            hop_settings = replace(
                settings, name=host, address=host, port=port, user=user or settings.user,
                proxy_jump=None, become=None,
            )  # fmt: skip
            tunnel = hops[-1].raw if hops else None
            try:
                hops.append(await _connect(hop_settings, cache, policy, timeout, tunnel))
            except Unreachable as error:
                raise Unreachable(f"jump host {hop.strip()}: {error.message}",
                                  hint=error.hint) from None  # fmt: skip
        target = await _connect(settings, cache, policy, timeout, hops[-1].raw if hops else None)
    except BaseException:
        for hop in reversed(hops):
            await hop.close()
        raise
    target.hops = hops
    return target


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """[user@]host[:port] of one ProxyJump hop (pure)."""
    user, _, rest = spec.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):  # [v6-address]:port
        host, _, tail = rest[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else None
    elif rest.count(":") == 1:
        host, _, text = rest.partition(":")
        port = int(text)
    return (user or None), host, port


async def _connect(
    settings: ConnectionSettings,
    cache: KeyCache,
    policy: str,
    timeout: float,
    tunnel: asyncssh.SSHClientConnection | None,
) -> SSHConnection:
    config = os.path.expanduser(settings.config_file or DEFAULT_SSH_CONFIG)
    known_files = (
        settings.known_hosts_files
        or _config_known_hosts(config, settings)
        or (DEFAULT_KNOWN_HOSTS,)
    )
    # Read under every policy: a key that differs from the one known is refused even with
    # "off", which only stops unknown keys from being refused.
    known = cache.known_hosts(known_files)
    checker = _HostKeyCheck(policy, known)
    options: dict = {
        "port": settings.port or (),
        "username": settings.user or (),
        "client_keys": cache.keys(settings.key_files) if settings.key_files else (),
        "password": settings.password.value if settings.password else None,
        "known_hosts": known,
        "config": [config] if os.path.exists(config) else [],
        "connect_timeout": timeout,
        "login_timeout": timeout,
        "keepalive_interval": 15,
        "keepalive_count_max": 3,
    }
    if tunnel is not None:
        options["tunnel"] = tunnel
    if checker is not None:
        options["client_factory"] = lambda: checker
    try:
        conn = await asyncssh.connect(settings.address, **options)
    except Exception as error:  # noqa: BLE001 - every failure becomes one line for this host
        raise _unreachable(error, settings, timeout, checker, known_files) from None
    if checker is not None and checker.new_key is not None:
        line = _known_hosts_line(settings.address, settings.port or 22, checker.new_key)
        cache.remember(known_files, line)
    return SSHConnection(settings.name, conn, settings.become)


def _config_known_hosts(config: str, settings: ConnectionSettings) -> tuple[str, ...]:
    """UserKnownHostsFile from ssh_config for this host. We check host keys ourselves (to tell a
    changed key from an unknown one), so we must read the same files asyncssh would."""
    if not os.path.exists(config):
        return ()
    from asyncssh.config import SSHClientConfig

    try:
        parsed = SSHClientConfig.load(
            None, [config], False, False, False, getpass.getuser(), settings.user or (),
            settings.address, settings.port or (),
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - asyncssh reports a bad config itself when connecting
        return ()
    files = parsed.get("UserKnownHostsFile") or ()
    return tuple(files) if isinstance(files, list | tuple) else (str(files),)


def _unreachable(
    error: Exception,
    settings: ConnectionSettings,
    timeout: float,
    checker: _HostKeyCheck | None,
    known_files: tuple[str, ...],
) -> Unreachable:
    """The one line an operator needs, for each way a connection can fail."""
    where = f"{settings.address}:{settings.port or 22}"
    if isinstance(error, TimeoutError):
        return Unreachable(f"{where}: connect timed out after {timeout:g} s")
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        if checker is not None and checker.verdict == "changed":
            return Unreachable(
                f"{where}: HOST KEY CHANGED: it does not match {', '.join(known_files)}",
                hint="if the host was rebuilt, remove its old line from known_hosts; "
                "it may also be an attack",
            )
        return Unreachable(
            f"{where}: host key unknown: not in {', '.join(known_files)}",
            hint="add it to known_hosts, or trust it on first use with "
            "--host-key-policy accept-new",
        )
    if isinstance(error, asyncssh.PermissionDenied):
        return Unreachable(
            f"{where}: authentication failed for user {settings.user or '(default)'}",
            hint="check ansible_user and ansible_ssh_private_key_file",
        )
    if isinstance(error, ConnectionRefusedError):
        return Unreachable(f"{where}: connection refused (is sshd running?)", transient=True)
    if isinstance(error, ConnectionResetError | asyncssh.ConnectionLost):
        # sshd sheds handshakes beyond MaxStartups by closing them: worth a retry.
        return Unreachable(f"{where}: connection dropped during handshake", transient=True)
    if isinstance(error, socket.gaierror):
        return Unreachable(f"{where}: cannot resolve host name: {error.strerror}")
    if isinstance(error, OSError):
        return Unreachable(f"{where}: {error.strerror or error}")
    if isinstance(error, asyncssh.Error):
        return Unreachable(f"{where}: {error.reason}")
    if isinstance(error, Unreachable):
        return error
    return Unreachable(f"{where}: {type(error).__name__}: {error}")


class SSHConnection(Connection):
    """An open connection to one host; commands run on channels of it, concurrently if asked."""

    def __init__(self, name: str, conn: asyncssh.SSHClientConnection, become: Become | None):
        super().__init__(name, become)
        self._conn = conn
        self.hops: list[SSHConnection] = []  # ProxyJump connections, closed with this one

    @property
    def raw(self) -> asyncssh.SSHClientConnection:
        """The asyncssh connection (to tunnel a further hop through it)."""
        return self._conn

    async def _execute(
        self, line: str, stdin: Input, timeout: float | None, on_line: OnLine | None
    ) -> tuple[int, str, str]:
        process = None
        try:
            # Opening the channel counts too: on a partitioned host (packets dropped) the
            # request would otherwise wait for TCP to give up, which takes minutes.
            async with asyncio.timeout(timeout):
                process = await self._conn.create_process(line, encoding=None)
                return await _collect(process, stdin, on_line)
        except TimeoutError:
            if process is not None:
                process.close()  # the remote command may go on: sshd only hangs up on it
                raise CommandTimeout(f"command did not finish within {timeout:g} s") from None
            raise Unreachable(f"no answer to opening a channel within {timeout:g} s") from None
        except (OSError, asyncssh.Error) as error:
            raise Unreachable(f"connection lost: {error}") from None

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
        for hop in reversed(self.hops):
            await hop.close()


async def _collect(process, stdin: Input, on_line: OnLine | None) -> tuple[int, str, str]:
    out, err = await exchange(
        process.stdin, process.stdin.write_eof, process.stdout, process.stderr, stdin, on_line
    )
    await process.wait_closed()
    status = process.exit_status
    return (status if status is not None else -1), out, err
