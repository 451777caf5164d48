"""Vault values through orchestr's loaders and `orchestr apply` on this machine (a local
connection): encrypted vars files, role files, group_vars, `-e @file` and inline `!vault`
values are decrypted, reach the host, and never appear in what orchestr prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestr.cli import main
from orchestr.playbook.loader import load_playbook
from orchestr.vault import format as vault_format
from orchestr.vault.cli import format_yaml
from orchestr.vault.keyring import Keyring, VaultPassword, using
from orchestr.vault.secret import VaultSecret, forget_all

PASSWORD = "correct horse battery"
PROD_PASSWORD = "prod-only-pass"
# Distinct words, so that a leak is found by a plain substring search.
FILE_SECRET = "file-secret-7f3a9c"
INLINE_SECRET = "inline-secret-52be1d"
ROLE_SECRET = "role-secret-c0ffee"
GROUP_SECRET = "group-secret-9d8e7f"
HOST_SECRET = "host-secret-a1b2c3"
PROD_SECRET = "prod-secret-e4d5f6"
EXTRA_SECRET = "extra-secret-0a0b0c"
SECRETS = (FILE_SECRET, INLINE_SECRET, ROLE_SECRET, GROUP_SECRET, HOST_SECRET, PROD_SECRET,
           EXTRA_SECRET)  # fmt: skip


def inline(name: str, value: str, password: str = PASSWORD, label: str | None = None) -> str:
    return format_yaml(vault_format.encrypt(value, password, label), name, indent=6)


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A playbook using every kind of vault value, writing each one into files under out/."""
    for variable in ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST",
                     "ANSIBLE_VAULT_ID_MATCH"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "vault-pass").write_text(PASSWORD + "\n")
    (tmp_path / "prod-pass").write_text(PROD_PASSWORD + "\n")
    (tmp_path / "secrets.yml").write_text(
        vault_format.encrypt(f"file_secret: {FILE_SECRET}\nfile_port: 5432\n", PASSWORD)
    )
    (tmp_path / "extra.yml").write_text(vault_format.encrypt(f"extra: {EXTRA_SECRET}\n", PASSWORD))
    role = tmp_path / "roles" / "writer"
    (role / "defaults").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "defaults" / "main.yml").write_text(
        vault_format.encrypt(f"role_secret: {ROLE_SECRET}\n", PASSWORD, "dev")
    )
    (role / "tasks" / "main.yml").write_text(
        "- name: role writes its secret\n"
        "  copy:\n"
        "    content: '{{ role_secret }}'\n"
        "    dest: '{{ out }}/role.txt'\n"
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        vault_format.encrypt(f"group_secret: {GROUP_SECRET}\n", PASSWORD)
    )
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "local.yml").write_text(inline("host_secret", HOST_SECRET).lstrip())
    (tmp_path / "hosts").write_text(f"local ansible_connection=local out={tmp_path / 'out'}\n")
    write_site(tmp_path, PROD_PASSWORD)
    return tmp_path


def write_site(project: Path, prod_password: str) -> None:
    (project / "site.yml").write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  vars_files: [secrets.yml]\n"
        "  vars:\n"
        f"    {inline('inline_secret', INLINE_SECRET).strip()}\n"
        f"    {inline('prod_secret', PROD_SECRET, prod_password, 'prod').strip()}\n"
        "  roles: [writer]\n"
        "  tasks:\n"
        "    - name: copy a value of an encrypted vars file\n"
        "      copy:\n"
        "        content: '{{ file_secret }}:{{ file_port }}'\n"
        "        dest: '{{ out }}/file.txt'\n"
        "    - name: a command line holding inline values\n"
        "      shell: echo {{ inline_secret }} {{ prod_secret }} > {{ out }}/inline.txt; "
        "echo {{ inline_secret }}\n"
        "      register: echoed\n"
        "    - name: show what was registered\n"
        "      debug:\n"
        "        var: echoed\n"
        "    - name: inventory and extra vars values\n"
        "      copy:\n"
        "        content: '{{ group_secret }} {{ host_secret }} {{ extra }}'\n"
        "        dest: '{{ out }}/inventory.txt'\n"
        "    - debug:\n"
        "        msg: 'the secret is {{ inline_secret }}'\n"
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def apply_args(project: Path, *more: str) -> list[str]:
    return ["apply", str(project / "site.yml"), "-i", str(project / "hosts"),
            "-e", f"@{project / 'extra.yml'}", *more]  # fmt: skip


def assert_landed(project: Path) -> None:
    out = project / "out"
    assert (out / "file.txt").read_text() == f"{FILE_SECRET}:5432"
    assert (out / "role.txt").read_text() == ROLE_SECRET
    assert (out / "inline.txt").read_text() == f"{INLINE_SECRET} {PROD_SECRET}\n"
    assert (out / "inventory.txt").read_text() == f"{GROUP_SECRET} {HOST_SECRET} {EXTRA_SECRET}"


def assert_never_shown(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_loader_decrypts_at_load(project: Path) -> None:
    ring = Keyring([VaultPassword("default", PASSWORD.encode()),
                    VaultPassword("prod", PROD_PASSWORD.encode())])  # fmt: skip
    with using(ring):
        playbook = load_playbook(str(project / "site.yml"))
    play = playbook.plays[0]
    assert play.vars["inline_secret"] == INLINE_SECRET
    assert isinstance(play.vars["inline_secret"], VaultSecret)
    assert play.vars["inline_secret"].ciphertext.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert play.vars["prod_secret"].ciphertext.startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    defaults = play.roles[0].defaults
    assert defaults == {"role_secret": ROLE_SECRET}
    assert isinstance(defaults["role_secret"], VaultSecret)


def test_apply_with_password_files(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *apply_args(project, "--vault-password-file",
                                             str(project / "vault-pass"), "--vault-id",
                                             f"prod@{project / 'prod-pass'}", "-v", "--diff"))  # fmt: skip
    assert code == 0, out + err
    assert_landed(project)
    assert_never_shown(out, err)
    assert '"msg": "the secret is ***"' in out
    assert "ok=6    changed=4" in out


def test_apply_json_events_and_env_password_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One password for both labels: a 1.2 value is tried with the other passwords too.
    write_site(project, PASSWORD)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(project / "vault-pass"))
    code, out, err = run(capsys, *apply_args(project, "--json", "-vvv"))
    assert code == 0, out + err
    assert_landed(project)
    assert_never_shown(out, err)
    events = [json.loads(line) for line in out.splitlines()]
    debug = [e for e in events if e.get("result") and "msg" in e["result"]]
    assert debug[-1]["result"]["msg"] == "the secret is ***"


def test_ask_vault_pass(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answers = {"Vault password: ": PASSWORD, "Vault password (prod): ": PROD_PASSWORD}

    def prompt(text: str) -> str:
        asked.append(text)
        return answers[text]

    monkeypatch.setattr("orchestr.vault.keyring._prompt", prompt)
    code, out, err = run(capsys, *apply_args(project, "--ask-vault-pass", "--vault-id",
                                             "prod@prompt"))  # fmt: skip
    assert code == 0, out + err
    assert asked == ["Vault password (prod): ", "Vault password: "]  # each asked once
    assert_landed(project)


def test_no_password_is_one_clear_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "apply", str(project / "site.yml"), "-i", str(project / "hosts"))
    assert code == 1  # as ansible-playbook for an encrypted vars file
    assert err.splitlines() == [
        f"ERROR: {project / 'secrets.yml'}:1: Attempting to decrypt but no vault secrets found "
        "(hint: give the vault password with --vault-password-file FILE, --vault-id "
        "LABEL@SOURCE or --ask-vault-pass, or set ANSIBLE_VAULT_PASSWORD_FILE)"
    ]
    # An inline value says its line and column.
    (project / "secrets.yml").write_text(f"file_secret: x\nfile_port: 1\n{inline('a', 'b')}\n")
    code, out, err = run(capsys, "apply", str(project / "site.yml"), "-i", str(project / "hosts"))
    assert code == 1
    assert err.startswith(f"ERROR: {project / 'secrets.yml'}:3:4: Attempting to decrypt but no")
    assert len(err.splitlines()) == 1


def test_wrong_password(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "bad-pass").write_text("nope")
    code, out, err = run(capsys, *apply_args(project, "--vault-password-file",
                                             str(project / "bad-pass")))  # fmt: skip
    assert code == 1
    assert err == (
        f"ERROR: {project / 'secrets.yml'}:1: Decryption failed (no vault secrets were found "
        "that could decrypt) (hint: the passwords of vault ids default do not open it)\n"
    )


def test_syntax_check_needs_passwords_only_for_whole_files(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As ansible-playbook --syntax-check: inline values are not opened, encrypted files are.
    (project / "secrets.yml").write_text("file_secret: x\nfile_port: 1\n")
    (project / "roles" / "writer" / "defaults" / "main.yml").write_text("role_secret: x\n")
    code, out, err = run(capsys, "apply", "--syntax-check", str(project / "site.yml"),
                         "-i", str(project / "hosts"))  # fmt: skip
    assert (code, err) == (0, "")
    (project / "secrets.yml").write_text(vault_format.encrypt("a: 1\n", PASSWORD))
    code, out, err = run(capsys, "apply", "--syntax-check", str(project / "site.yml"),
                         "-i", str(project / "hosts"))  # fmt: skip
    assert code == 1 and "no vault secrets found" in err


def test_inventory_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["inventory", "-i", str(project / "hosts"), "--vault-password-file",
            str(project / "vault-pass")]  # fmt: skip
    code, out, err = run(capsys, *args, "--host", "local")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["group_secret"] == GROUP_SECRET  # a file encrypted whole: shown decrypted
    assert shown["host_secret"]["__ansible_vault"].startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    code, out, err = run(capsys, *args, "--graph", "--vars")
    assert code == 0, err
    assert f"{{host_secret = {HOST_SECRET}}}" in out  # --graph --vars decrypts, as Ansible's
    code, out, err = run(capsys, "inventory", "-i", str(project / "hosts"), "--list")
    assert code == 1 and "group_vars/all.yml:1: Attempting to decrypt" in err


def test_commands_reaching_hosts_open_inline_values_only_with_a_password(tmp_path: Path) -> None:
    from orchestr.inventory.values import VaultText
    from orchestr.targets import resolve_targets

    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "h1.yml").write_text(inline("token", HOST_SECRET).lstrip())
    (tmp_path / "hosts").write_text("h1 ansible_host=192.0.2.1\n")
    (tmp_path / "pw").write_text(PASSWORD)
    flags = {"sources": (str(tmp_path / "hosts"),), "forks": 5, "handshakes": 5}
    with using(None):  # no click command here to end the activation: restore it ourselves
        token = resolve_targets("all", flags).inventory.hosts["h1"].vars["token"]
    assert isinstance(token, VaultText)  # unused by orchestr exec & co: no password needed
    with using(None):
        targets = resolve_targets("all", {**flags, "vault_password_files": (str(tmp_path / "pw"),)})
    assert targets.inventory.hosts["h1"].vars["token"] == HOST_SECRET
