"""Commands as values: argv parts quoted for `sh`, secrets masked wherever a command is shown."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Secret:
    """An argument whose value must never appear in output or logs."""

    value: str

    def __str__(self) -> str:  # a stray f-string must not leak it either
        return "***"

    def __repr__(self) -> str:  # nor a traceback, a %r in a log, or a dataclass's repr
        return "Secret('***')"


@dataclass(frozen=True)
class Shell:
    """Text passed to the shell as is: pipes, redirections, `&&` (the caller vouches for it)."""

    text: str


@dataclass(frozen=True)
class Nested:
    """A whole command passed as one argument (`sh -c CMD`), its secrets still masked."""

    command: Command


Part = str | Secret | Shell | Nested


@dataclass(frozen=True)
class Command:
    """A remote command: argv words (quoted) and shell fragments, rendered for `sh -c`."""

    parts: tuple[Part, ...]

    @classmethod
    def argv(cls, *words: str | Secret) -> Command:
        return cls(tuple(words))

    @classmethod
    def shell(cls, text: str) -> Command:
        return cls((Shell(text),))

    def __add__(self, other: Command) -> Command:
        return Command(self.parts + other.parts)

    def render(self) -> str:
        """The exact text the remote shell runs."""
        return " ".join(_render(part, reveal=True) for part in self.parts)

    def display(self) -> str:
        """What operators and logs see: secrets as ***, decrypted vault values too."""
        from orchestr.vault.secret import mask as mask_vault

        return mask_vault(" ".join(_render(part, reveal=False) for part in self.parts))

    @property
    def secrets(self) -> tuple[str, ...]:
        found: list[str] = []
        for part in self.parts:
            if isinstance(part, Secret):
                found.append(part.value)
            elif isinstance(part, Nested):
                found.extend(part.command.secrets)
        return tuple(found)


def _render(part: Part, reveal: bool) -> str:
    if isinstance(part, Shell):
        return part.text
    if isinstance(part, Secret):
        return shlex.quote(part.value) if reveal else "***"
    if isinstance(part, Nested):
        return shlex.quote(part.command.render() if reveal else part.command.display())
    return shlex.quote(part)


def as_command(value: Command | str | Iterable[str]) -> Command:
    """A str is a shell line (as Ansible's `shell` module takes it); a list is an argv."""
    if isinstance(value, Command):
        return value
    if isinstance(value, str):
        return Command.shell(value)
    return Command(tuple(value))


def mask(text: str, secrets: Iterable[str]) -> str:
    """Hide secret values in text that came back from a host (an echoing command)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class Become:
    """Privilege escalation with sudo, as Ansible's `become` does."""

    user: str = "root"
    password: Secret | None = None
    flags: str = "-H"

    def wrap(self, command: Command) -> tuple[Command, bytes | None]:
        """The sudo command line and the stdin that feeds it the password (never argv)."""
        words: list[Part] = ["sudo", *shlex.split(self.flags)]
        if self.password is None:
            words.append("-n")  # never hang on a prompt nobody can answer
        else:
            words += ["-S", "-p", ""]  # read the password from stdin, print no prompt
        words += ["-u", self.user, "--", "sh", "-c", Nested(command)]
        stdin = None if self.password is None else (self.password.value + "\n").encode()
        return Command(tuple(words)), stdin
