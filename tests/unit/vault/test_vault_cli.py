"""`orchestr vault encrypt|decrypt|view|encrypt_string`, in process."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestr.cli import main
from orchestr.vault import format as vault_format
from orchestr.vault.secret import forget_all


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST",
                     "ANSIBLE_VAULT_ENCRYPT_SALT", "ANSIBLE_VAULT_ENCRYPT_IDENTITY"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    forget_all()
    yield
    forget_all()


@pytest.fixture
def pw(tmp_path: Path) -> str:
    (tmp_path / "pw").write_text("pw\n")
    return str(tmp_path / "pw")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["vault", *args])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def test_encrypt_view_decrypt_in_place(tmp_path: Path, pw: str, capsys) -> None:
    target = tmp_path / "vars.yml"
    target.write_text("db_password: hunter2\n")
    assert run(capsys, "encrypt", "--vault-password-file", pw, str(target)) == (0, "", "")
    text = target.read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n") and "hunter2" not in text
    assert target.stat().st_mode & 0o777 == 0o600
    assert run(capsys, "view", "--vault-password-file", pw, str(target)) == (
        0, "db_password: hunter2\n", "",
    )  # fmt: skip
    code, out, err = run(capsys, "encrypt", "--vault-password-file", pw, str(target))
    assert code == 1 and err == f"ERROR: input is already encrypted for {target}\n"
    assert run(capsys, "decrypt", "--vault-password-file", pw, str(target))[0] == 0
    assert target.read_text() == "db_password: hunter2\n"
    code, out, err = run(capsys, "decrypt", "--vault-password-file", pw, str(target))
    assert code == 1 and err == f"ERROR: Input is not vault encrypted data. for {target}\n"


def test_vault_ids_and_output(tmp_path: Path, pw: str, capsys) -> None:
    source = tmp_path / "plain.txt"
    source.write_text("no newline")
    code, out, err = run(capsys, "encrypt", "--vault-id", f"dev@{pw}", str(source), "--output",
                         str(tmp_path / "enc"))  # fmt: skip
    assert code == 0 and source.read_text() == "no newline"
    assert (tmp_path / "enc").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;dev\n")
    (tmp_path / "other").write_text("other\n")
    code, out, err = run(capsys, "view", "--vault-id", f"qa@{tmp_path / 'other'}", "--vault-id",
                         f"dev@{pw}", str(tmp_path / "enc"))  # fmt: skip
    assert (code, out) == (0, "no newline\n")  # view ends the text with a newline
    code, out, err = run(capsys, "decrypt", "--vault-id", f"qa@{tmp_path / 'other'}",
                         str(tmp_path / "enc"), "--output", "-")  # fmt: skip
    assert code == 1
    assert err == (
        f"ERROR: Decryption failed (no vault secrets were found that could decrypt) for "
        f"{tmp_path / 'enc'} (hint: it names vault id 'dev'; the passwords of vault ids qa do "
        "not open it)\n"
    )
    code, out, err = run(capsys, "encrypt", "--vault-id", f"qa@{tmp_path / 'other'}",
                         "--vault-password-file", pw, str(source))  # fmt: skip
    assert code == 1 and "The vault-ids qa,default are available to encrypt" in err
    code, out, err = run(capsys, "encrypt", "--vault-id", f"qa@{tmp_path / 'other'}",
                         "--vault-password-file", pw, "--encrypt-vault-id", "qa", str(source))  # fmt: skip
    assert code == 0 and source.read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;qa\n")


def test_stdin_to_stdout(pw: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin\n")))
    code, out, err = run(capsys, "encrypt", "--vault-password-file", pw)
    assert code == 0 and vault_format.decrypt(out, "pw") == b"from stdin\n"


def test_encrypt_string_output(pw: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_VAULT_ENCRYPT_SALT", "salt")
    code, out, err = run(capsys, "encrypt_string", "--vault-password-file", pw, "--name",
                         "db_password", "hunter2")  # fmt: skip
    assert code == 0 and err == ""
    envelope = vault_format.encrypt("hunter2", "pw", salt=b"salt")
    expected = "db_password: !vault |\n" + "".join(
        " " * 10 + line + "\n" for line in envelope.splitlines()
    )
    assert out == expected
    code, out, err = run(capsys, "encrypt_string", "--vault-password-file", pw, "-n", "x",
                         "one", "two")  # fmt: skip
    assert code == 0
    assert out.count("!vault |") == 2 and out.startswith("x: !vault |\n")
    assert "\n!vault |\n" in out
    assert err.splitlines() == [
        "The number of --name options do not match the number of args.",
        'The last named variable will be "x". The rest will not have names.',
        '# The encrypted version of variable ("x", the string #1 from the command line args).',
        "# The encrypted version of the string #2 from the command line args.)",
    ]


def test_encrypt_string_from_stdin(pw: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"s3cret")))
    code, out, err = run(capsys, "encrypt_string", "--vault-id", f"prod@{pw}", "--stdin-name", "k")
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["k: !vault |", "          $ANSIBLE_VAULT;1.2;AES256;prod"]
    assert vault_format.decrypt("\n".join(lines[1:]), "pw") == b"s3cret"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, out, err = run(capsys, "encrypt_string", "--vault-password-file", pw)
    assert code == 5 and "stdin was empty, not encrypting" in err


def test_prompted_password_is_confirmed(tmp_path: Path, capsys, monkeypatch) -> None:
    answers = iter(["new-pass", "new-pass"])
    monkeypatch.setattr("orchestr.vault.keyring._prompt", lambda text: next(answers))
    target = tmp_path / "f"
    target.write_text("x\n")
    assert run(capsys, "encrypt", str(target))[0] == 0
    assert vault_format.decrypt(target.read_text(), "new-pass") == b"x\n"


def test_output_takes_one_input(tmp_path: Path, pw: str, capsys) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_text(name)
    code, out, err = run(capsys, "encrypt", "--vault-password-file", pw, "--output", "-",
                         str(tmp_path / "a"), str(tmp_path / "b"))  # fmt: skip
    assert (code, out) == (5, "")
    assert err == "ERROR: At most one input file may be used with the --output option\n"
