"""Ansible Vault on the lab: a playbook with an encrypted vars file and an inline !vault value,
run with --vault-password-file. The decrypted values land on the hosts and never appear in
what orchestr prints (-v --diff, and --json)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestr.vault import format as vault_format
from orchestr.vault.cli import format_yaml
from tests.integration.conftest import ORCHESTR

PASSWORD = "lab-vault-password"
FILE_SECRET = "lab-file-secret-4e9d21"
INLINE_SECRET = "lab-inline-secret-8b7c63"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "vault-pass").write_text(PASSWORD + "\n")
    (tmp_path / "secrets.yml").write_text(
        vault_format.encrypt(f"db_password: {FILE_SECRET}\n", PASSWORD)
    )
    value = format_yaml(vault_format.encrypt(INLINE_SECRET, PASSWORD, "lab"), "api_token", 6)
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  vars_files: [secrets.yml]\n"
        "  vars:\n"
        f"    {value.strip()}\n"
        "  tasks:\n"
        "    - name: write the vars file's secret\n"
        "      copy:\n"
        '        content: "password={{ db_password }}\\n"\n'
        "        dest: /tmp/vault-file.txt\n"
        "        mode: '0600'\n"
        "    - name: pass the inline secret on a command line\n"
        "      command: sh -c 'echo token={{ api_token }} > /tmp/vault-inline.txt; echo {{ api_token }}'\n"
        "      register: echoed\n"
        "    - debug:\n"
        "        var: echoed.stdout\n"
    )
    return tmp_path / "site.yml"


def test_vaulted_values_reach_hosts_and_stay_hidden(lab, tmp_path):
    playbook = _project(tmp_path)
    for host in ("node1", "node2"):
        lab.ssh(host, "rm -f /tmp/vault-file.txt /tmp/vault-inline.txt")
    runs = []
    for extra in (["-v", "--diff"], ["--json", "-v"]):
        done = subprocess.run(
            [ORCHESTR, "apply", str(playbook), "-i", str(lab.inventory),
             "--vault-password-file", str(tmp_path / "vault-pass"), *extra],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append(done)
    for host in ("node1", "node2"):
        assert lab.ssh(host, "cat /tmp/vault-file.txt").stdout == f"password={FILE_SECRET}\n"
        assert lab.ssh(host, "cat /tmp/vault-inline.txt").stdout == f"token={INLINE_SECRET}\n"
    for done in runs:
        for text in (done.stdout, done.stderr):
            assert FILE_SECRET not in text and INLINE_SECRET not in text
    assert '"echoed.stdout": "***"' in runs[0].stdout


def test_without_the_password_nothing_runs(lab, tmp_path):
    playbook = _project(tmp_path)
    done = subprocess.run([ORCHESTR, "apply", str(playbook), "-i", str(lab.inventory)],
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"ERROR: {tmp_path / 'secrets.yml'}:1: Attempting to decrypt but no vault secrets found"
    )
