"""What the YAML loaders call: whole encrypted files and inline `!vault` values, opened with
the active keyring at load time (see orchestr/vault/__init__.py for why at load)."""

from __future__ import annotations

from typing import Any

from orchestr.errors import Location
from orchestr.vault.keyring import Keyring, VaultError, active
from orchestr.vault.secret import VaultSecret, secret_data

HEADER_PREFIX = "$ANSIBLE_VAULT;"


class DecryptedText(str):
    """The text of a file that was encrypted whole: every value parsed from it is a secret."""

    __slots__ = ()


def looks_encrypted(text: str) -> bool:
    return text.lstrip().startswith(HEADER_PREFIX)


def _text(plaintext: bytes, where: Location) -> str:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as error:
        raise VaultError(f"decrypted data is not valid UTF-8 (byte {error.start})",
                         location=where) from None  # fmt: skip


def decrypt_file_text(text: str, path: str, keyring: Keyring | None = None) -> DecryptedText:
    """The plaintext of a file encrypted whole with `ansible-vault encrypt`."""
    where = Location(path, 1)
    keyring = keyring if keyring is not None else active()
    if keyring is None:
        keyring = Keyring()  # nothing given: the "no vault secrets found" error, with its hint
    return DecryptedText(_text(keyring.decrypt(text, where), where))


def inline_value(ciphertext: str, where: Location) -> str:
    """An inline `!vault |` value: its plaintext as a VaultSecret. Kept encrypted (VaultText)
    when no command made a keyring active (a library caller) or the command only shows the
    inventory, as ansible-inventory prints such values without decrypting them."""
    from orchestr.inventory.values import VaultText

    keyring = active()
    if keyring is None or keyring.inline == "keep":
        return VaultText(ciphertext)
    return VaultSecret(_text(keyring.decrypt(ciphertext, where), where), ciphertext)


def file_data(data: Any, text: str) -> Any:
    """Data parsed from `text`: all its strings secret when the file was encrypted whole."""
    return secret_data(data) if isinstance(text, DecryptedText) else data


def load_vars_text(text: str, path: str) -> Any:
    """A vars file's data (`-e @file`): decrypted when encrypted whole, !vault values opened,
    with the inventory's YAML rules."""
    from orchestr.inventory.yaml_loader import load_data_text

    if text.startswith(HEADER_PREFIX):
        text = decrypt_file_text(text, path)
    return load_data_text(text, path)[0]
