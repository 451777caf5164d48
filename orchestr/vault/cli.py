"""`orchestr vault encrypt|decrypt|view|encrypt_string`: ansible-vault's commands, same output."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import click

from orchestr.vault.keyring import (
    Keyring,
    VaultError,
    VaultPassword,
    load_passwords,
    vault_slugs,
)
from orchestr.vault.options import vault_options

YAML_INDENT = 10  # ansible-vault indents the envelope of encrypt_string by ten spaces


def _keyring(flags: dict[str, Any], new: bool) -> Keyring:
    """The passwords of the flags; with none given, a prompt (confirmed when encrypting), as
    ansible-vault asks."""
    slugs = vault_slugs(flags.get("vault_ids") or (), flags.get("vault_password_files") or (),
                        bool(flags.get("ask_vault_pass")))  # fmt: skip
    if not slugs:
        slugs = ["default@prompt_ask_vault_pass"]
    keyring = Keyring(load_passwords(slugs, new=new))
    if not keyring.passwords:
        raise VaultError("A vault password is required to use Ansible's Vault")
    return keyring


def _encrypting_password(flags: dict[str, Any]) -> VaultPassword:
    return _keyring(flags, new=True).for_encryption(
        flags.get("encrypt_vault_id") or os.environ.get("ANSIBLE_VAULT_ENCRYPT_IDENTITY") or None
    )


def _salt() -> bytes | None:
    """Ansible's VAULT_ENCRYPT_SALT: a fixed salt makes encryption repeatable (tests, diffs)."""
    value = os.environ.get("ANSIBLE_VAULT_ENCRYPT_SALT")
    return value.encode("utf-8") if value else None


def _one_input(files: tuple[str, ...], output_file: str | None) -> None:
    if output_file and len(files) > 1:
        from orchestr.errors import OptionsError

        raise OptionsError("At most one input file may be used with the --output option")


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(os.path.realpath(path), "rb") as handle:
            return handle.read()
    except OSError as error:
        raise VaultError(
            f"Unable to read source file ({path}): {error.strerror or error}"
        ) from None


def _write(data: bytes, path: str) -> None:
    """To stdout for '-'; else replace the file by a new one readable by its owner only, as
    ansible-vault writes it (created beside it, then renamed: never half written)."""
    if path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = os.path.realpath(path)
    directory = os.path.dirname(target) or "."
    if not os.access(directory, os.W_OK):
        raise VaultError(f"Destination '{directory}' not writable")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".orchestr-vault-")
    try:
        with os.fdopen(handle, "wb") as out:  # mkstemp creates it with mode 0600
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _done(message: str) -> None:
    if sys.stdout.isatty():  # ansible-vault says it only to a terminal
        click.echo(message, err=True)


def _for_file(path: str, work: Callable[[], Any]) -> Any:
    try:
        return work()
    except VaultError as error:
        raise VaultError(f"{error.message} for {path}", hint=error.hint) from None


@click.group(name="vault", context_settings={"help_option_names": ["-h", "--help"]})
def vault() -> None:
    """Encrypt and decrypt Ansible Vault data, as ansible-vault does (formats 1.1 and 1.2)."""


def _output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--output", "output_file", metavar="FILE", default=None,
                        help="Write here instead of in place; '-' for stdout.")(command)  # fmt: skip


def _encrypt_id_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--encrypt-vault-id", "encrypt_vault_id", metavar="LABEL", default=None,
                        help="The vault id to encrypt with (needed when several are given).")(
        command
    )  # fmt: skip


@vault.command(name="encrypt")
@click.argument("files", nargs=-1)
@_output_option
@_encrypt_id_option
@vault_options
def encrypt_command(files: tuple[str, ...], output_file: str | None, **flags: Any) -> None:
    """Encrypt files in place (stdin to stdout without FILES)."""
    from orchestr.vault import format as vault_format

    _one_input(files, output_file)
    password = _encrypting_password(flags)
    for path in files or ("-",):
        data = _read(path)
        if vault_format.is_encrypted(data):
            raise VaultError(f"input is already encrypted for {path}")
        envelope = vault_format.encrypt(data, password.password, password.label, _salt())
        _write(envelope.encode("ascii"), output_file or path)
    _done("Encryption successful")


@vault.command(name="decrypt")
@click.argument("files", nargs=-1)
@_output_option
@vault_options
def decrypt_command(files: tuple[str, ...], output_file: str | None, **flags: Any) -> None:
    """Decrypt files in place (stdin to stdout without FILES)."""
    _one_input(files, output_file)
    keyring = _keyring(flags, new=False)
    for path in files or ("-",):
        data = _read(path).decode("utf-8", "replace")
        plaintext = _for_file(path, lambda data=data: _open(keyring, data))
        _write(plaintext, output_file or path)
    _done("Decryption successful")


def _open(keyring: Keyring, data: str) -> bytes:
    from orchestr.vault import format as vault_format

    if not vault_format.is_encrypted(data):
        raise VaultError("Input is not vault encrypted data.")
    return keyring.decrypt(data)


@vault.command(name="view")
@click.argument("files", nargs=-1, required=True)
@vault_options
def view_command(files: tuple[str, ...], **flags: Any) -> None:
    """Show the plaintext of encrypted files."""
    keyring = _keyring(flags, new=False)
    for path in files:
        data = _read(path).decode("utf-8", "replace")
        text = _for_file(path, lambda data=data: _open(keyring, data)).decode("utf-8", "replace")
        if not text.endswith("\n"):
            text += "\n"
        if sys.stdout.isatty():
            click.echo_via_pager(text)
        else:
            sys.stdout.write(text)


def format_yaml(envelope: str, name: str | None = None, indent: int = YAML_INDENT) -> str:
    """`name: !vault |` and the envelope indented below it, as encrypt_string prints it."""
    lines = [f"{name}: !vault |" if name else "!vault |"]
    lines += [" " * indent + line for line in envelope.splitlines()]
    return "\n".join(lines)


@vault.command(name="encrypt_string")
@click.argument("strings", nargs=-1)
@click.option("-p", "--prompt", "use_prompt", is_flag=True, help="Prompt for the string.")
@click.option("--show-input", is_flag=True, help="Do not hide the prompted string.")
@click.option(
    "-n", "--name", "names", multiple=True, metavar="NAME", help="Variable name (repeatable)."
)
@click.option("--stdin-name", metavar="NAME", default=None, help="Variable name for stdin.")
@_output_option
@_encrypt_id_option
@vault_options
def encrypt_string_command(strings: tuple[str, ...], use_prompt: bool, show_input: bool,
                           names: tuple[str, ...], stdin_name: str | None,
                           output_file: str | None, **flags: Any) -> None:  # fmt: skip
    """Encrypt strings as YAML `!vault` values to paste in a vars file."""
    from orchestr.errors import OptionsError
    from orchestr.vault import format as vault_format

    read_stdin = "-" in strings or stdin_name is not None or (not strings and not use_prompt)
    if use_prompt and read_stdin:
        raise OptionsError("The --prompt option is not supported if also reading input from stdin")
    password = _encrypting_password(flags)
    texts: list[tuple[bytes, str, str | None]] = []  # (plaintext, where from, name)
    if use_prompt:
        name = click.prompt("Variable name (enter for no name)", default="", show_default=False,
                            err=True) or None  # fmt: skip
        label = "String to encrypt" if show_input else "String to encrypt (hidden)"
        text = click.prompt(label, hide_input=not show_input, default="", show_default=False,
                            err=True)  # fmt: skip
        if text == "":
            raise OptionsError("The plaintext provided from the prompt was empty, not encrypting")
        texts.append((text.encode("utf-8"), "the interactive prompt", name))
    if read_stdin:
        data = sys.stdin.buffer.read()
        if not data:
            raise OptionsError("stdin was empty, not encrypting")
        texts.append((data, "stdin", stdin_name))
    words = [s for s in strings if s != "-"]
    if len(words) > len(names) and names:
        click.echo("The number of --name options do not match the number of args.", err=True)
        click.echo(f'The last named variable will be "{names[-1]}". The rest will not have '
                   "names.", err=True)  # fmt: skip
    for index, word in enumerate(words):
        if word == "":
            raise OptionsError(
                "The plaintext provided from the command line args was empty, not encrypting"
            )
        texts.append((word.encode("utf-8"), "the command line args",
                      names[index] if index < len(names) else None))  # fmt: skip
    outputs = []
    for number, (plaintext, source, name) in enumerate(texts, 1):
        envelope = vault_format.encrypt(plaintext, password.password, password.label, _salt())
        if len(texts) > 1:
            if name:
                click.echo(f'# The encrypted version of variable ("{name}", the string #{number} '
                           f"from {source}).", err=True)  # fmt: skip
            else:
                click.echo(f"# The encrypted version of the string #{number} from {source}.)",
                           err=True)  # fmt: skip
        outputs.append(format_yaml(envelope, name))
    _write(("\n".join(outputs) + "\n").encode("utf-8"), output_file or "-")
    _done("Encryption successful")
