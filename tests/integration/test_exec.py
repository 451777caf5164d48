"""`orchestr exec` against the real lab: blocks, JSON lines, exit codes, quoting, a paused host,
one-line reasons for every way a connection can fail, host-key policies, become."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import asyncssh
import pytest

from tests.integration.transport_fixtures import orchestr, write_inventory

DEPLOY_PASSWORD = "d3ploy pa$$ 'word"  # spaces, quotes and $: must survive stdin, never argv


def exec_(inventory, *args: str, timeout: float = 120):
    *options, command = args
    return orchestr("exec", "all", "-i", str(inventory), *options, "--", *command,
                    timeout=timeout)  # fmt: skip


def _no_traceback(run) -> None:
    assert "Traceback" not in run.stdout + run.stderr
    assert "unexpected" not in run.stderr


def test_hostname_on_every_host(lab):
    run = exec_(lab.inventory, ["hostname"])
    assert run.code == 0, run.stderr
    for host in ("node1", "node2"):
        assert f"{host} | CHANGED | rc=0 >>\n{host}\n" in run.stdout + "\n"
    assert "hosts=2 ok=2 failed=0 unreachable=0" in run.stderr


def test_json_lines(lab):
    run = exec_(lab.inventory, "--json", ["hostname"])
    assert run.code == 0, run.stderr
    records = {r["host"]: r for r in (json.loads(line) for line in run.lines)}
    assert sorted(records) == ["node1", "node2"]
    for host, record in records.items():
        assert record["status"] == "ok"
        assert record["rc"] == 0
        assert record["stdout"] == f"{host}\n"
        assert record["stderr"] == ""
        assert record["duration"] >= 0


def test_failing_command_exits_2(lab):
    run = exec_(lab.inventory, ["echo oops >&2; exit 3"])
    assert run.code == 2
    for host in ("node1", "node2"):
        assert f"{host} | FAILED | rc=3 >>\noops" in run.stdout
    assert "failed=2" in run.stderr


def test_one_host_failing_exits_2_other_block_normal(lab):
    run = exec_(lab.inventory, ['test "$(hostname)" = node1'])
    assert run.code == 2
    assert run.host_lines("node1") == ["node1 | CHANGED | rc=0 >>"]
    assert run.host_lines("node2") == ["node2 | FAILED | rc=1 >>"]


def test_one_word_is_a_shell_line(lab):
    run = exec_(lab.inventory, "-l", "node1", ["printf 'a\\nb\\nc\\n' | wc -l && echo $((6*7))"])
    assert run.code == 0, run.stderr
    assert run.stdout.split("\n", 1)[1].split() == ["3", "42"]


def test_several_words_are_a_quoted_argv(lab):
    words = ["printf", "[%s]", "a b", "$(hostname)", "`id`", "it's", "|", "wc", ";", "*"]
    run = exec_(lab.inventory, "-l", "node1", words)
    assert run.code == 0, run.stderr
    assert run.lines[1] == "[a b][$(hostname)][`id`][it's][|][wc][;][*]"


def test_paused_host_is_unreachable_after_the_connect_timeout(lab):
    timeout = 2.0
    baseline = exec_(lab.inventory, "-l", "node1", ["hostname"]).seconds  # start-up, connect
    lab.orchestr("lab", "pause", "node2")
    try:
        run = exec_(lab.inventory, "-T", str(timeout), ["hostname"], timeout=60)
    finally:
        lab.orchestr("lab", "resume", "node2")
    assert run.code == 4, run.stdout + run.stderr
    assert run.host_lines("node1") == ["node1 | CHANGED | rc=0 >>"]
    assert run.lines[run.lines.index("node1 | CHANGED | rc=0 >>") + 1] == "node1"
    (line,) = run.host_lines("node2")
    assert line.startswith("node2 | UNREACHABLE! => ")
    assert "timed out" in line
    _no_traceback(run)
    # It waited for the timeout, and not much more than a run without the paused host.
    assert timeout <= run.seconds < timeout + baseline + 4, (run.seconds, baseline)


@pytest.fixture
def empty_known_hosts(tmp_path):
    path = tmp_path / "empty_known_hosts"
    path.write_text("")
    return path


def _other_key_known_hosts(lab, path):
    """The lab's known_hosts with node1's keys replaced by another key of each type."""
    lines = []
    for line in Path(lab.known_hosts).read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and lab.addresses["node1"] in fields[0].split(","):
            other = asyncssh.generate_private_key(fields[1])
            fields[2] = other.export_public_key().decode().split()[1]
        lines.append(" ".join(fields))
    path.write_text("\n".join(lines) + "\n")
    assert path.read_text() != Path(lab.known_hosts).read_text()
    return path


def _unreachable_reason(run, host: str = "node1") -> str:
    assert run.code == 4, run.stdout + run.stderr
    (line,) = run.host_lines(host)
    prefix = f"{host} | UNREACHABLE! => "
    assert line.startswith(prefix), line
    _no_traceback(run)
    return line.removeprefix(prefix)


def test_unknown_host_key(lab, tmp_path, empty_known_hosts):
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}},
                                known_hosts=str(empty_known_hosts))  # fmt: skip
    reason = _unreachable_reason(exec_(inventory, ["true"]))
    assert "host key unknown" in reason
    assert str(empty_known_hosts) in reason
    assert empty_known_hosts.read_text() == ""  # strict: nothing recorded


def test_changed_host_key(lab, tmp_path):
    known = _other_key_known_hosts(lab, tmp_path / "known_hosts")
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}}, known_hosts=str(known))
    reason = _unreachable_reason(exec_(inventory, ["true"]))
    assert "HOST KEY CHANGED" in reason


def test_wrong_key_file_path(lab, tmp_path):
    missing = tmp_path / "no" / "such_key"
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}},
                                ansible_ssh_private_key_file=str(missing))  # fmt: skip
    reason = _unreachable_reason(exec_(inventory, ["true"]))
    assert str(missing) in reason
    assert "does not exist" in reason


def test_key_the_host_does_not_accept(lab, tmp_path):
    key = tmp_path / "stranger"
    key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    key.chmod(0o600)
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}},
                                ansible_ssh_private_key_file=str(key))  # fmt: skip
    reason = _unreachable_reason(exec_(inventory, ["true"]))
    assert "authentication failed" in reason
    assert "root" in reason


def test_refused_connection(lab, tmp_path):
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {"ansible_port": 2}})
    run = exec_(inventory, ["true"])
    reason = _unreachable_reason(run)
    assert f"{lab.addresses['node1']}:2" in reason
    assert "refused" in reason
    assert run.seconds < 10


def test_name_that_does_not_resolve(lab, tmp_path):
    inventory = write_inventory(
        tmp_path / "inv.yml", lab, {"ghost": {"ansible_host": "no-such-host.invalid"}}
    )
    reason = _unreachable_reason(exec_(inventory, ["true"]), host="ghost")
    assert "no-such-host.invalid" in reason
    assert "resolve" in reason


def test_every_failure_at_once_each_its_own_line(lab, tmp_path, empty_known_hosts):
    """Failing hosts next to a good one: the good one is unaffected, each bad one has a line."""
    inventory = write_inventory(
        tmp_path / "inv.yml", lab,
        {"node1": {}, "refused": {"ansible_host": lab.addresses["node2"], "ansible_port": 2},
         "ghost": {"ansible_host": "no-such-host.invalid"}},
    )  # fmt: skip
    run = exec_(inventory, ["hostname"])
    assert run.code == 4
    assert run.host_lines("node1") == ["node1 | CHANGED | rc=0 >>"]
    assert len(run.host_lines("refused")) == 1 and "refused" in run.host_lines("refused")[0]
    assert len(run.host_lines("ghost")) == 1 and "resolve" in run.host_lines("ghost")[0]
    assert "hosts=3 ok=1 failed=0 unreachable=2" in run.stderr


# --- host-key policies ---------------------------------------------------------------------


def test_accept_new_records_then_strict_trusts_then_changed_is_refused(
    lab, tmp_path, empty_known_hosts
):
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}, "node2": {}},
                                known_hosts=str(empty_known_hosts))  # fmt: skip
    first = exec_(inventory, "--host-key-policy", "accept-new", ["hostname"])
    assert first.code == 0, first.stdout + first.stderr
    recorded = empty_known_hosts.read_text().splitlines()
    for host in ("node1", "node2"):
        address = lab.addresses[host]
        mine = [line for line in recorded if line.split()[0] == address]
        assert len(mine) == 1, recorded
        # The recorded key is one the lab itself knows for that host.
        lab_keys = {
            tuple(line.split()[1:3])
            for line in Path(lab.known_hosts).read_text().splitlines()
            if line.strip() and address in line.split()[0].split(",")
        }
        assert tuple(mine[0].split()[1:3]) in lab_keys

    second = exec_(inventory, "--host-key-policy", "strict", ["hostname"])
    assert second.code == 0, second.stdout + second.stderr
    assert empty_known_hosts.read_text().splitlines() == recorded  # nothing added

    changed = _other_key_known_hosts(lab, tmp_path / "changed_known_hosts")
    inventory = write_inventory(tmp_path / "inv2.yml", lab, {"node1": {}},
                                known_hosts=str(changed))  # fmt: skip
    before = changed.read_text()
    third = exec_(inventory, "--host-key-policy", "accept-new", ["hostname"])
    assert "HOST KEY CHANGED" in _unreachable_reason(third)
    assert changed.read_text() == before


def test_accept_new_creates_a_missing_known_hosts_file(lab, tmp_path):
    known = tmp_path / "new" / "known_hosts"
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}}, known_hosts=str(known))
    run = exec_(inventory, "--host-key-policy", "accept-new", ["true"])
    assert run.code == 0, run.stdout + run.stderr
    assert known.read_text().split()[0] == lab.addresses["node1"]


def test_policy_off_needs_no_known_hosts_and_warns(lab, tmp_path, empty_known_hosts):
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}},
                                known_hosts=str(empty_known_hosts))  # fmt: skip
    run = exec_(inventory, "--host-key-policy", "off", ["hostname"])
    assert run.code == 0, run.stdout + run.stderr
    assert "[WARNING]" in run.stderr and "man-in-the-middle" in run.stderr
    assert empty_known_hosts.read_text() == ""


# --- become ----------------------------------------------------------------------------------


# The lab's sshd reads its one AuthorizedKeysFile from a 0700 root directory, so only root can
# log in with the lab key. For sudo tests, a second sshd on node1 (same host key) lets these
# users in with the lab key from a world-readable copy; port 22 is left alone.
BECOME_PORT = 2299


@pytest.fixture(scope="module")
def sudo_users(lab):
    """On node1: deploy (sudo with its password), ops (sudo NOPASSWD), plain (no sudo)."""
    password = shlex.quote(f"deploy:{DEPLOY_PASSWORD}")
    script = (
        "set -e; for u in deploy ops plain; do id -u $u >/dev/null 2>&1 || "
        "useradd -m -s /bin/bash $u; done; "
        f"echo {password} | chpasswd; "
        "echo 'deploy ALL=(ALL:ALL) ALL' > /etc/sudoers.d/deploy; "
        "echo 'ops ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/ops; "
        "chmod 0440 /etc/sudoers.d/deploy /etc/sudoers.d/ops; visudo -c >/dev/null; "
        "install -d -m 0755 /etc/orchestr-test-keys; "
        "install -m 0644 /etc/ssh/orchestr-lab/authorized_keys /etc/orchestr-test-keys/; "
        "[ -e /run/orchestr-test-sshd ] || { /usr/sbin/sshd -p "
        f"{BECOME_PORT} -h /etc/ssh/orchestr-lab/ssh_host_ed25519_key "
        "-o AuthorizedKeysFile=/etc/orchestr-test-keys/authorized_keys -o PidFile=none "
        "-o PasswordAuthentication=no && touch /run/orchestr-test-sshd; }"
    )
    lab.ssh("node1", script)
    uids = lab.ssh("node1", "id -u deploy; id -u ops; id -u plain").stdout.split()
    return dict(zip(["deploy", "ops", "plain"], map(int, uids), strict=True))


@pytest.fixture
def become_inventory(lab, tmp_path, sudo_users):
    """write(user, **vars) -> an inventory of node1 reached as `user` on the second sshd."""
    address = lab.addresses["node1"]
    known = tmp_path / "become_known_hosts"
    known.write_text(
        "".join(
            f"[{address}]:{BECOME_PORT} {' '.join(line.split()[1:])}\n"
            for line in Path(lab.known_hosts).read_text().splitlines()
            if line.strip() and address in line.split()[0].split(",")
        )
    )

    def write(user: str, **variables):
        return write_inventory(
            tmp_path / f"{user}.yml", lab, {"node1": {"ansible_port": BECOME_PORT}},
            known_hosts=str(known), ansible_user=user, **variables,
        )  # fmt: skip

    return write


def test_become_with_the_password(become_inventory, sudo_users):
    inventory = become_inventory(
        "deploy", ansible_become=True, ansible_become_password=DEPLOY_PASSWORD
    )
    run = exec_(inventory, "--json", ["id", "-u"])
    assert run.code == 0, run.stdout + run.stderr
    (record,) = [json.loads(line) for line in run.lines]
    assert record["stdout"] == "0\n"
    for secret in (DEPLOY_PASSWORD, "d3ploy"):
        assert secret not in run.stdout + run.stderr
    # The login itself is deploy: root came from sudo.
    login = become_inventory("deploy")
    own = exec_(login, "--json", ["id -u"])
    assert json.loads(own.lines[0])["stdout"] == f"{sudo_users['deploy']}\n"


def test_become_user_from_the_command_line(become_inventory, sudo_users):
    inventory = become_inventory("ops")
    own = exec_(inventory, ["id -u"])
    assert own.lines[1] == str(sudo_users["ops"])
    become = exec_(inventory, "-b", ["id -u"])
    assert become.code == 0, become.stdout + become.stderr
    assert become.lines[1] == "0"
    other = exec_(inventory, "-b", "--become-user", "deploy", ["id", "-un"])
    assert other.code == 0, other.stdout + other.stderr
    assert other.lines[1] == "deploy"


def test_become_with_a_wrong_password_fails_cleanly(become_inventory):
    wrong = "not-the-password-42"
    inventory = become_inventory("deploy", ansible_become=True, ansible_become_password=wrong)
    run = exec_(inventory, ["id -u"], timeout=60)
    assert run.code == 2, run.stdout + run.stderr
    (header,) = run.host_lines("node1")
    assert header.startswith("node1 | FAILED | rc=")
    assert "sudo" in run.stdout.lower() or "sorry" in run.stdout.lower()
    assert "\n0\n" not in run.stdout + "\n"
    assert wrong not in run.stdout + run.stderr
    _no_traceback(run)
    assert run.seconds < 30  # never waits on a prompt


def test_become_without_sudo_rights_fails_cleanly(become_inventory):
    inventory = become_inventory("plain")
    run = exec_(inventory, "-b", ["id -u"], timeout=60)
    assert run.code == 2, run.stdout + run.stderr
    (header,) = run.host_lines("node1")
    assert header.startswith("node1 | FAILED | rc=")
    assert "sudo" in run.stdout
    _no_traceback(run)
    assert run.seconds < 30


def test_command_timeout_is_a_one_line_failure(lab):
    run = exec_(lab.inventory, "--command-timeout", "1", ['[ "$(hostname)" = node1 ] && sleep 20'])
    assert run.code == 2, run.stdout + run.stderr
    assert run.host_lines("node1") == ["node1 | FAILED! => command did not finish within 1 s"]
    assert run.host_lines("node2") == ["node2 | FAILED | rc=1 >>"]
    _no_traceback(run)
    assert run.seconds < 8


def test_policy_off_still_refuses_a_changed_key(lab, tmp_path):
    """`off` takes unknown keys; a key that differs from the one known is refused all the same
    (issue 14: the README says a changed key is always refused)."""
    changed = _other_key_known_hosts(lab, tmp_path / "changed_known_hosts")
    inventory = write_inventory(tmp_path / "inv.yml", lab, {"node1": {}},
                                known_hosts=str(changed))  # fmt: skip
    before = changed.read_text()
    run = exec_(inventory, "--host-key-policy", "off", ["hostname"])
    assert "HOST KEY CHANGED" in _unreachable_reason(run)
    assert changed.read_text() == before
