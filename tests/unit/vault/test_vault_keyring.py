"""Vault passwords from files, scripts, prompts and the environment; which one opens what."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestr.errors import Location
from orchestr.vault import format as vault_format
from orchestr.vault.keyring import (
    Keyring,
    VaultError,
    VaultPassword,
    load_passwords,
    read_password_source,
    split_vault_id,
    vault_slugs,
)


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_split_vault_id() -> None:
    assert split_vault_id("dev@pw.txt") == ("dev", "pw.txt")
    assert split_vault_id("pw.txt") == (None, "pw.txt")
    assert split_vault_id("dev@prompt") == ("dev", "prompt")
    assert split_vault_id("a@b@c") == ("a", "b@c")


def test_slugs_in_ansible_order() -> None:
    environ = {"ANSIBLE_VAULT_IDENTITY_LIST": "env1@a, env2@b", "ANSIBLE_VAULT_PASSWORD_FILE": "c"}
    slugs = vault_slugs(["dev@d"], ["e"], ask=True, environ=environ)
    assert slugs == [
        "env1@a",
        "env2@b",
        "dev@d",
        "default@e",
        "default@c",
        "default@prompt_ask_vault_pass",
    ]
    assert vault_slugs(environ={}) == []


def test_password_file_is_stripped(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("  secret pass \r\n\n")
    password = read_password_source("default", str(tmp_path / "pw"))
    assert password == VaultPassword("default", b"secret pass", str(tmp_path / "pw"))


def test_password_file_errors(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="was not found"):
        read_password_source("default", str(tmp_path / "missing"))
    with pytest.raises(VaultError, match="can not be a directory"):
        read_password_source("default", str(tmp_path))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(VaultError, match="Invalid vault password was provided from file"):
        read_password_source("default", str(tmp_path / "empty"))


def test_script_stdout_is_the_password(tmp_path: Path) -> None:
    script = _script(tmp_path / "pass.sh", "printf 'from-script\\n'\n")
    assert read_password_source("default", script).password == b"from-script"
    failing = _script(tmp_path / "fail.sh", "echo oops >&2; exit 3\n")
    with pytest.raises(VaultError, match=r"returned non-zero \(3\): oops"):
        read_password_source("default", failing)


def test_client_script_gets_the_vault_id(tmp_path: Path) -> None:
    client = _script(
        tmp_path / "keys-client.sh",
        '[ "$1" = --vault-id ] || exit 9\n[ "$2" = prod ] && { echo prod-pass; exit 0; }\n'
        "echo unknown >&2; exit 2\n",
    )
    assert read_password_source("prod", client).password == b"prod-pass"
    with pytest.raises(VaultError, match="did not find a secret for vault-id=dev"):
        read_password_source("dev", client)


def test_prompt_source_and_confirmation() -> None:
    answers = iter(["typed", "new", "new", "new", "other"])
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return next(answers)

    assert read_password_source("dev", "prompt", prompt=prompt).password == b"typed"
    assert read_password_source("dev", "prompt", prompt=prompt, new=True).password == b"new"
    with pytest.raises(VaultError, match="Passwords do not match"):
        read_password_source("default", "prompt_ask_vault_pass", prompt=prompt, new=True)
    assert asked == [
        "Vault password (dev): ",
        "New vault password (dev): ",
        "Confirm new vault password (dev): ",
        "New Vault password: ",
        "Confirm New Vault password: ",
    ]


def test_encrypted_password_file_opened_by_an_earlier_password(tmp_path: Path) -> None:
    (tmp_path / "outer").write_text("outer-pass\n")
    (tmp_path / "inner").write_text(vault_format.encrypt("inner-pass\n", "outer-pass"))
    passwords = load_passwords([f"a@{tmp_path / 'outer'}", f"b@{tmp_path / 'inner'}"])
    assert [(p.label, p.password) for p in passwords] == [
        ("a", b"outer-pass"),
        ("b", b"inner-pass"),
    ]


def test_a_failing_source_only_warns_when_another_works(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw")
    warnings: list[str] = []
    passwords = load_passwords(
        [f"x@{tmp_path / 'nope'}", f"{tmp_path / 'pw'}"], warn=warnings.append
    )
    assert [p.label for p in passwords] == ["default"]
    assert len(warnings) == 1 and "was not found" in warnings[0]
    with pytest.raises(VaultError, match="was not found"):
        load_passwords([f"x@{tmp_path / 'nope'}"])


def _ring(*pairs: tuple[str, str]) -> Keyring:
    return Keyring([VaultPassword(label, password.encode()) for label, password in pairs])


def test_label_first_then_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_ID_MATCH", raising=False)
    envelope = vault_format.encrypt("v", "prod-pw", "prod")
    ring = _ring(("dev", "dev-pw"), ("prod", "prod-pw"), ("other", "prod-pw"))
    assert [p.label for p in ring.candidates("prod")] == ["prod", "dev", "other"]
    assert ring.decrypt(envelope) == b"v"
    # A 1.2 label names no password given: every password is still tried, as in Ansible.
    assert _ring(("dev", "dev-pw"), ("x", "prod-pw")).decrypt(envelope) == b"v"
    monkeypatch.setenv("ANSIBLE_VAULT_ID_MATCH", "true")
    with pytest.raises(VaultError, match="Decryption failed"):
        _ring(("dev", "dev-pw"), ("x", "prod-pw")).decrypt(envelope)


def test_errors_say_where_and_what_to_do() -> None:
    envelope = vault_format.encrypt("v", "right", "prod")
    where = Location("group_vars/all.yml", 3, 9)
    with pytest.raises(VaultError) as empty:
        Keyring().decrypt(envelope, where)
    assert empty.value.one_line().startswith(
        "group_vars/all.yml:3:9: Attempting to decrypt but no vault secrets found (hint: give "
        "the vault password with --vault-password-file"
    )
    assert empty.value.exit_code == 1
    with pytest.raises(VaultError) as wrong:
        _ring(("dev", "wrong")).decrypt(envelope, where)
    assert wrong.value.one_line() == (
        "group_vars/all.yml:3:9: Decryption failed (no vault secrets were found that could "
        "decrypt) (hint: it names vault id 'prod'; the passwords of vault ids dev do not open it)"
    )
    with pytest.raises(VaultError, match="not vault encrypted"):
        _ring(("dev", "x")).decrypt("plain text", where)


def test_opened_once() -> None:
    envelope = vault_format.encrypt("v", "pw")
    ring = _ring(("default", "pw"))
    assert ring.decrypt(envelope) == b"v"
    ring.passwords.clear()  # a second decryption of the same text needs no password
    assert ring.decrypt(envelope) == b"v"


def test_password_for_encryption() -> None:
    with pytest.raises(VaultError, match="A vault password is required"):
        Keyring().for_encryption()
    two = _ring(("dev", "a"), ("prod", "b"))
    with pytest.raises(VaultError, match="vault-ids dev,prod are available"):
        two.for_encryption()
    assert two.for_encryption("prod").password == b"b"
    with pytest.raises(VaultError, match="Did not find a match for --encrypt-vault-id=qa"):
        two.for_encryption("qa")


def test_environment_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("env-pw\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.delenv("ANSIBLE_VAULT_IDENTITY_LIST", raising=False)
    passwords = load_passwords(vault_slugs())
    assert [(p.label, p.password) for p in passwords] == [("default", b"env-pw")]
    assert os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] == str(tmp_path / "pw")
