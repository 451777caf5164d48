"""The vault flags of every command that loads inventories or playbooks, named as Ansible's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from orchestr.vault.keyring import Keyring, activate, load_passwords, vault_slugs

_ACTIVE_KEY = "orchestr.vault.keyring"


def vault_options(command: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option("--vault-id", "vault_ids", multiple=True, metavar="LABEL@SOURCE",
                     help="A vault password: SOURCE is a file, a script or 'prompt' "
                          "(repeatable; LABEL defaults to 'default')."),
        click.option("--vault-password-file", "--vault-pass-file", "vault_password_files",
                     multiple=True, metavar="PATH",
                     help="Vault password file, or a script printing it (repeatable; "
                          "default $ANSIBLE_VAULT_PASSWORD_FILE)."),
        click.option("-J", "--ask-vault-pass", "--ask-vault-password", "ask_vault_pass",
                     is_flag=True, help="Prompt for the vault password."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def keyring_from_flags(flags: Mapping[str, Any], inline: str = "decrypt") -> Keyring:
    """The keyring the flags name (reading files, running scripts, prompting), made active
    until the command ends. Called twice in one command, it reads and prompts once.

    `inline` is what loading does with inline `!vault` values: "decrypt" (failing without a
    password), "keep" them encrypted, or "auto": decrypt when a password was given, else keep
    (commands that read the inventory only to reach hosts: a vaulted variable they never use
    needs no password, as with Ansible)."""
    context = click.get_current_context(silent=True)
    meta = context.meta if context is not None else {}
    existing = meta.get(_ACTIVE_KEY)
    if isinstance(existing, Keyring):
        return existing
    slugs = vault_slugs(
        flags.get("vault_ids") or (),
        flags.get("vault_password_files") or (),
        bool(flags.get("ask_vault_pass")),
    )
    passwords = load_passwords(slugs)
    if inline == "auto":
        inline = "decrypt" if passwords else "keep"
    keyring = Keyring(passwords, inline=inline)
    meta[_ACTIVE_KEY] = keyring
    return activate(keyring)
