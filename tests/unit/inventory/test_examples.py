"""The example inventories of the top-level inventory/ folder read exactly as ansible-inventory
reads them, with the example vault password given to both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import normalize

from orchestr.cli import main
from orchestr.vault.secret import forget_all

EXAMPLES = Path(__file__).resolve().parents[3] / "inventory"
PASSWORD_FILE = str(EXAMPLES / "vault-password.example.txt")
SOURCES = {
    "ini": str(EXAMPLES / "ini" / "hosts.ini"),
    "yaml": str(EXAMPLES / "yaml"),
    "folder": str(EXAMPLES),
}
OUTPUTS = {
    "list": ["--list"],
    "yaml": ["--list", "-y"],
    "graph": ["--graph", "--vars"],
    "host": ["--host", "db1.example.com"],
}
CASES = [(source, output) for source in SOURCES for output in OUTPUTS]


@pytest.fixture(scope="module")
def expected(oracle) -> dict[tuple[str, str], object]:
    def one(source: str, output: str) -> object:
        args = ["-i", SOURCES[source], "--vault-password-file", PASSWORD_FILE, *OUTPUTS[output]]
        return oracle.inventory(args)

    results = oracle.many(CASES, one)
    return dict(zip(CASES, results, strict=True))


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def ours(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["inventory", *args])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def test_examples_exist() -> None:
    assert (EXAMPLES / "README.md").is_file()
    assert not (EXAMPLES / "vault-password.example.txt").stat().st_mode & 0o111  # not a script
    encrypted = [
        EXAMPLES / "ini" / "group_vars" / "dbservers" / "vault.yml",
        EXAMPLES / "yaml" / "group_vars" / "all" / "vault.yml",
    ]
    for path in encrypted:
        assert path.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    inline = [
        EXAMPLES / "ini" / "host_vars" / "db1.example.com.yml",
        EXAMPLES / "yaml" / "group_vars" / "loadbalancers.yml",
    ]
    for path in inline:
        assert "!vault |" in path.read_text()


@pytest.mark.parametrize(("source", "output"), CASES)
def test_example_matches_ansible(source: str, output: str, expected, capsys) -> None:
    theirs = expected[(source, output)]
    code, out, err = ours(capsys, "-i", SOURCES[source], "--vault-password-file", PASSWORD_FILE,
                          *OUTPUTS[output])  # fmt: skip
    assert code == theirs.returncode, err + theirs.stderr
    if output == "list":
        assert normalize(json.loads(out)) == normalize(json.loads(theirs.stdout))
    else:
        assert out == theirs.stdout


def test_decrypted_values_are_there(capsys) -> None:
    code, out, err = ours(capsys, "-i", SOURCES["ini"], "--vault-password-file", PASSWORD_FILE,
                          "--host", "db2.example.com")  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["vault_db_password"] == "example-db-password-change-me"
    assert shown["db_password"] == "{{ vault_db_password }}"


def test_without_the_password_both_fail(oracle, capsys) -> None:
    theirs = oracle.inventory(["-i", SOURCES["yaml"], "--list"])
    code, out, err = ours(capsys, "-i", SOURCES["yaml"], "--list")
    assert theirs.returncode != 0 and "no vault secrets found" in theirs.stderr
    assert code == 1 and "group_vars/all/vault.yml:1: Attempting to decrypt but no vault" in err
