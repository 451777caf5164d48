"""Byte for byte with the real ansible-vault (ansible-core, a dev dependency): each decrypts what
the other encrypts, formats 1.1 and 1.2, files and encrypt_string. ansible-vault takes a second
or more to start, so its five runs are made once, all at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestr.cli import main
from orchestr.inventory.yaml_loader import load_data_text
from orchestr.vault import format as vault_format
from orchestr.vault.cli import format_yaml
from orchestr.vault.keyring import Keyring, VaultPassword, using
from orchestr.vault.secret import VaultSecret, forget_all

ANSIBLE_VAULT = Path(sys.executable).parent / "ansible-vault"
PASSWORD = "interop-pass"
DEV_PASSWORD = "dev-pass"
SALT = "fixed-salt-for-comparison"
PLAIN = "answer: 42\nsecret: from-ansible\n"

pytestmark = pytest.mark.skipif(not ANSIBLE_VAULT.exists(), reason="ansible-core not installed")


@pytest.fixture(scope="module")
def ansible(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Run every ansible-vault call at once; the outputs by name, and the files of the run."""
    home = tmp_path_factory.mktemp("ansible-vault")
    (home / "ansible.cfg").write_text("[defaults]\n")
    (home / "pw").write_text(PASSWORD + "\n")
    (home / "pw-dev").write_text(DEV_PASSWORD + "\n")
    (home / "plain.yml").write_text(PLAIN)
    # Made by orchestr, for ansible-vault to open: 1.1, 1.2 with a label, an inline value.
    (home / "o11.yml").write_text(vault_format.encrypt("made: by orchestr\n", PASSWORD))
    (home / "o12.yml").write_text(vault_format.encrypt("label: dev\n", DEV_PASSWORD, "dev"))
    (home / "o-inline.txt").write_text(vault_format.encrypt("inline-from-orchestr", DEV_PASSWORD,
                                                            "dev"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(home), ANSIBLE_CONFIG=str(home / "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(home / "tmp"), ANSIBLE_NOCOLOR="1")  # fmt: skip
    salted = {**env, "ANSIBLE_VAULT_ENCRYPT_SALT": SALT}
    calls = {
        "file_1_1": (["encrypt", "--vault-password-file", "pw", "--output", "a11.yml",
                      "plain.yml"], env),
        "string_1_2": (["encrypt_string", "--vault-id", "dev@pw-dev", "--name", "token",
                        "ansible-inline"], env),
        "salted_file": (["encrypt", "--vault-id", "dev@pw-dev", "--output", "-", "plain.yml"],
                        salted),
        "salted_string": (["encrypt_string", "--vault-password-file", "pw", "--name", "token",
                           "same bytes"], salted),
        "view_ours": (["view", "--vault-password-file", "pw", "--vault-id", "dev@pw-dev",
                       "o11.yml", "o12.yml", "o-inline.txt"], env),
    }  # fmt: skip
    running = {
        name: subprocess.Popen([str(ANSIBLE_VAULT), *args], cwd=home, env=environ, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, (args, environ) in calls.items()
    }  # fmt: skip
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"ansible-vault {name}: {err}"
        results[name] = out
    yield {"home": home, **results}


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST",
                     "ANSIBLE_VAULT_ENCRYPT_SALT"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    forget_all()
    yield
    forget_all()


def ours(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        main(["vault", *args])
    captured = capsys.readouterr()
    assert done.value.code in (0, None), captured.err
    return captured.out


def test_we_decrypt_an_ansible_file(ansible: dict, capsys) -> None:
    home = ansible["home"]
    assert (home / "a11.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert ours(capsys, "view", "--vault-password-file", str(home / "pw"),
                str(home / "a11.yml")) == PLAIN  # fmt: skip


def test_we_load_an_ansible_encrypt_string(ansible: dict) -> None:
    text = ansible["string_1_2"]
    assert text.startswith("token: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;dev\n")
    ring = Keyring([VaultPassword("dev", DEV_PASSWORD.encode())])
    with using(ring):
        data, _ = load_data_text(text, "inline.yml")
    assert data == {"token": "ansible-inline"} and isinstance(data["token"], VaultSecret)


def test_ansible_decrypts_ours(ansible: dict) -> None:
    assert ansible["view_ours"] == "made: by orchestr\nlabel: dev\ninline-from-orchestr\n"


def test_same_bytes_as_ansible_for_a_file(ansible: dict, capsys, monkeypatch) -> None:
    home = ansible["home"]
    monkeypatch.setenv("ANSIBLE_VAULT_ENCRYPT_SALT", SALT)
    mine = ours(capsys, "encrypt", "--vault-id", f"dev@{home / 'pw-dev'}", "--output", "-",
                str(home / "plain.yml"))  # fmt: skip
    assert mine == ansible["salted_file"]
    assert mine.startswith("$ANSIBLE_VAULT;1.2;AES256;dev\n")


def test_same_bytes_as_ansible_for_encrypt_string(ansible: dict, capsys, monkeypatch) -> None:
    home = ansible["home"]
    monkeypatch.setenv("ANSIBLE_VAULT_ENCRYPT_SALT", SALT)
    mine = ours(capsys, "encrypt_string", "--vault-password-file", str(home / "pw"), "--name",
                "token", "same bytes")  # fmt: skip
    assert mine == ansible["salted_string"]
    envelope = vault_format.encrypt("same bytes", PASSWORD, salt=SALT.encode())
    assert mine == format_yaml(envelope, "token") + "\n"
