"""How to reach a host, read from its inventory variables as Ansible reads them (pure)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestr.errors import ParseError
from orchestr.transport.command import Become, Secret

DEFAULT_CONNECT_TIMEOUT = 10.0

# OpenSSH options that change nothing for asyncssh (connection sharing is built in: one
# connection per host per run), so they are accepted silently. Ansible adds some by default.
_HARMLESS = {
    "controlmaster", "controlpersist", "controlpath", "loglevel", "batchmode",
    "kbdinteractiveauthentication", "preferredauthentications", "passwordauthentication",
    "identitiesonly", "compression", "forwardagent", "gssapiauthentication",
    "pubkeyauthentication", "serveraliveinterval", "serveralivecountmax",
}  # fmt: skip


@dataclass(frozen=True)
class SSHOptions:
    """What a line of OpenSSH arguments (ansible_ssh_common_args) asks for."""

    port: int | None = None
    user: str | None = None
    identity_files: tuple[str, ...] = ()
    known_hosts_files: tuple[str, ...] = ()
    strict_host_key_checking: str | None = None  # yes | accept-new | no
    proxy_jump: str | None = None
    connect_timeout: float | None = None
    config_file: str | None = None
    ignored: tuple[str, ...] = ()  # options orchestr cannot honor: reported, not silently dropped


def parse_ssh_args(text: str) -> SSHOptions:
    """Understand `-o Key=Value`, `-oKey=Value`, `-o Key Value`, -J, -i, -p, -l, -F."""
    words = shlex.split(text or "")
    values: dict[str, Any] = {"identity_files": [], "known_hosts_files": [], "ignored": []}
    index = 0
    while index < len(words):
        word = words[index]
        flag, inline = word[:2], word[2:]
        if flag in ("-o", "-J", "-i", "-p", "-l", "-F") and word.startswith("-"):
            if inline:
                argument = inline
            else:
                index += 1
                argument = words[index] if index < len(words) else ""
            if flag == "-o":
                if "=" in argument:
                    key, _, value = argument.partition("=")
                elif len(argument.split(None, 1)) == 2:  # -o 'Key Value', one word
                    key, value = argument.split(None, 1)
                else:
                    key, value = argument, words[index + 1] if index + 1 < len(words) else ""
                    index += 1
                _apply_option(values, key.strip(), value.strip())
            else:
                _apply_flag(values, flag, argument)
        else:
            values["ignored"].append(word)
        index += 1
    return SSHOptions(
        port=values.get("port"),
        user=values.get("user"),
        identity_files=tuple(values["identity_files"]),
        known_hosts_files=tuple(values["known_hosts_files"]),
        strict_host_key_checking=values.get("strict"),
        proxy_jump=values.get("proxy_jump"),
        connect_timeout=values.get("connect_timeout"),
        config_file=values.get("config_file"),
        ignored=tuple(values["ignored"]),
    )


def _apply_flag(values: dict[str, Any], flag: str, argument: str) -> None:
    if flag == "-J":
        values["proxy_jump"] = argument
    elif flag == "-i":
        values["identity_files"].append(argument)
    elif flag == "-p":
        values["port"] = _option_number(int, "-p", argument)
    elif flag == "-l":
        values["user"] = argument
    elif flag == "-F":
        values["config_file"] = argument


def _apply_option(values: dict[str, Any], key: str, value: str) -> None:
    name = key.lower()
    if name == "userknownhostsfile":
        values["known_hosts_files"].extend(value.split())
    elif name == "stricthostkeychecking":
        values["strict"] = {"yes": "yes", "no": "no", "off": "no", "accept-new": "accept-new"}.get(
            value.lower(), "yes"
        )
    elif name == "proxyjump":
        values["proxy_jump"] = value
    elif name == "identityfile":
        values["identity_files"].append(value)
    elif name == "port":
        values["port"] = _option_number(int, key, value)
    elif name == "user":
        values["user"] = value
    elif name == "connecttimeout":
        values["connect_timeout"] = _option_number(float, key, value)
    elif name not in _HARMLESS:
        values["ignored"].append(f"-o {key}={value}")


def _option_number(kind: type, option: str, value: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{option} needs a number, got {value!r}") from None


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to open one host's connection; None means "let ssh_config decide"."""

    name: str
    connection: str = "ssh"  # ssh | local
    address: str = ""
    port: int | None = None
    user: str | None = None
    key_files: tuple[str, ...] = ()
    known_hosts_files: tuple[str, ...] = ()
    host_key_policy: str | None = None  # from the inventory; the command line may override
    proxy_jump: str | None = None
    connect_timeout: float | None = None
    password: Secret | None = None
    config_file: str | None = None
    become: Become | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "1", "on", "y", "t")


def _number(kind: type, host: str, what: str, value: Any) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        noun = "an integer" if kind is int else "a number"
        raise ParseError(
            f"host {host}: {what} must be {noun}, got {value!r}",
            hint=f"fix it in the inventory (`orchestr inventory --host {host}` shows its vars)",
        ) from None


def settings_for(name: str, variables: Mapping[str, Any]) -> ConnectionSettings:
    """Connection settings from a host's merged variables, with Ansible's names and aliases."""

    def first(*keys: str) -> Any:
        for key in keys:
            if variables.get(key) not in (None, ""):
                return variables[key]
        return None

    args = " ".join(
        str(variables[key])
        for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args")
        if variables.get(key)
    )
    try:
        options = parse_ssh_args(args)
    except ValueError as error:
        raise ParseError(
            f"host {name}: cannot use ansible_ssh_common_args {args!r}: {error}",
            hint="give OpenSSH options as -o Key=Value",
        ) from None
    port = first("ansible_port", "ansible_ssh_port")
    key_file = first("ansible_ssh_private_key_file", "ansible_private_key_file")
    password = first("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
    timeout = first("ansible_ssh_timeout", "ansible_timeout")
    become = None
    become_warnings: list[str] = []
    if _boolean(first("ansible_become") or False):
        method = str(first("ansible_become_method") or "sudo")
        become_password = first("ansible_become_password", "ansible_become_pass")
        become = Become(
            user=str(first("ansible_become_user") or "root"),
            password=Secret(str(become_password)) if become_password is not None else None,
            flags=str(first("ansible_become_flags") or "-H"),
        )
        if method != "sudo":
            become_warnings.append(f"{name}: become method {method!r} is not supported: using sudo")
    warnings = tuple(
        f"{name}: ignoring unsupported SSH option {item}" for item in options.ignored
    ) + tuple(become_warnings)
    return ConnectionSettings(
        name=name,
        connection=str(first("ansible_connection") or "ssh"),
        address=str(first("ansible_host", "ansible_ssh_host") or name),
        port=_number(int, name, "ansible_port", port) if port is not None else options.port,
        user=str(first("ansible_user", "ansible_ssh_user") or "") or options.user,
        key_files=((str(key_file),) if key_file else ()) + options.identity_files,
        known_hosts_files=options.known_hosts_files,
        host_key_policy={"yes": "strict", "accept-new": "accept-new", "no": "off"}.get(
            options.strict_host_key_checking or ""
        ),
        proxy_jump=options.proxy_jump,
        connect_timeout=_number(float, name, "ansible_timeout", timeout)
        if timeout is not None
        else options.connect_timeout,
        password=Secret(str(password)) if password is not None else None,
        config_file=options.config_file,
        become=become,
        warnings=warnings,
    )


LOCALHOSTS = ("localhost", "127.0.0.1", "::1")


def inventory_settings(name: str, inventory: Any) -> ConnectionSettings:
    """How to reach `name`: from its inventory vars when the inventory knows it; an unknown
    localhost is reached locally, as Ansible's implicit localhost is."""
    host = inventory.hosts.get(name) if inventory is not None else None
    if host is not None:
        return settings_for(name, host.vars)
    if name in LOCALHOSTS:
        return ConnectionSettings(name=name, connection="local")
    return settings_for(name, {})
