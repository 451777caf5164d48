"""Decrypted values are secrets: masked in console lines, JSON events, command displays, service
env (and so the store), and still usable as plain strings everywhere else."""

from __future__ import annotations

import copy
import io
import json
import pickle
from collections.abc import Iterator

import pytest
import yaml

from orchestr.cluster.spec import masked_env, parse_service, spec_to_dict
from orchestr.playbook.output import Console
from orchestr.transport.command import Command
from orchestr.vault.secret import VaultSecret, contains_secret, forget_all, mask, secret_data


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def test_a_secret_is_a_string() -> None:
    secret = VaultSecret("hunter2-db", ciphertext="$ANSIBLE_VAULT;1.1;AES256\n00\n")
    assert secret == "hunter2-db" and isinstance(secret, str)
    assert secret.upper() == "HUNTER2-DB" and f"pw={secret}" == "pw=hunter2-db"
    assert copy.deepcopy({"a": secret})["a"].ciphertext == secret.ciphertext
    restored = pickle.loads(pickle.dumps(secret))
    assert type(restored) is VaultSecret and restored.ciphertext == secret.ciphertext
    assert json.dumps({"a": secret}) == '{"a": "hunter2-db"}'
    assert yaml.safe_dump({"a": secret}) == "a: hunter2-db\n"
    assert yaml.dump([secret], Dumper=yaml.Dumper) == "- hunter2-db\n"


def test_mask_replaces_every_form() -> None:
    VaultSecret("hunter2-db")
    VaultSecret('päss"wörd')
    VaultSecret("-----BEGIN KEY-----\nAAAAbbbbCCCCdddd\n-----END KEY-----\n")
    assert mask("echo hunter2-db > /tmp/x; hunter2-dbX") == "echo *** > /tmp/x; ***X"
    assert mask(json.dumps({"p": 'päss"wörd'})) == '{"p": "***"}'
    assert mask(json.dumps({"p": 'päss"wörd'}, ensure_ascii=False)) == '{"p": "***"}'
    assert mask("+AAAAbbbbCCCCdddd") == "+***"  # a line of a multi-line secret, as in a diff
    assert mask("nothing here") == "nothing here"


def test_short_secrets_only_as_whole_words() -> None:
    VaultSecret("ab")
    assert mask("ab") == "***"
    assert mask("tab cab ab-x [ab]") == "tab cab ***-x [***]"


def test_longest_secret_masked_whole() -> None:
    VaultSecret("secret")
    VaultSecret("secret-and-more")
    assert mask("x secret-and-more y secret") == "x *** y ***"


def test_contains_secret_and_secret_data() -> None:
    data = secret_data({"user": "dbadmin", "ports": [5432, "x-forwarded"], "on": True})
    assert isinstance(data["user"], VaultSecret) and data["ports"][0] == 5432
    assert isinstance(data["ports"][1], VaultSecret) and data["on"] is True
    assert contains_secret("postgres://dbadmin@db")
    assert contains_secret({"a": ["dbadmin"]})
    assert not contains_secret({"a": ["nobody", 3]})


def test_console_masks_human_and_json_output() -> None:
    VaultSecret("hunter2-db")
    human = io.StringIO()
    console = Console(stream=human, color=False, verbosity=1)
    console.event("task_start", name="use hunter2-db")
    console.event(
        "host_result", host="n1", status="changed",
        result={"cmd": ["echo", "hunter2-db"], "stdout": "hunter2-db"},
        diff=[{"before": "", "after": "password=hunter2-db\n"}],
    )  # fmt: skip
    events = io.StringIO()
    Console(as_json=True, stream=events).event(
        "host_result", host="n1", status="ok", registered={"stdout": "x hunter2-db y"}
    )
    for text in (human.getvalue(), events.getvalue()):
        assert "hunter2-db" not in text and "***" in text
    assert json.loads(events.getvalue())["registered"]["stdout"] == "x *** y"


def test_command_display_masks_rendered_values() -> None:
    VaultSecret("hunter2-db")
    command = Command.argv("mysql", "--password=hunter2-db")
    assert command.render() == "mysql --password=hunter2-db"
    assert command.display() == "mysql --password=***"


def test_service_env_holding_a_vault_value_is_secret() -> None:
    spec = parse_service(
        {
            "name": "api",
            "image": "api:1",
            "env": {
                "DB_URL": "postgres://app:" + VaultSecret("hunter2-db") + "@db/app",
                "PLAIN": VaultSecret("s3cr3t-plain-value"),
                "LEVEL": "debug",
            },
        }
    )
    assert spec.secret_env == {"DB_URL", "PLAIN"}
    assert masked_env(spec) == {"DB_URL": "********", "LEVEL": "debug", "PLAIN": "********"}
    assert spec_to_dict(spec)["secret_env"] == ["DB_URL", "PLAIN"]  # the store keeps the mark
