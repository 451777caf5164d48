"""Where connection settings come from, for real: ~/.ssh/config, ssh-agent, ProxyJump."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from tests.integration.conftest import ORCHESTR


def _exec(inventory, *args, env=None):
    done = subprocess.run(
        [ORCHESTR, "exec", "all", "-i", str(inventory), "--json", "-T", "5", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, {row["host"]: row for row in rows}


def _inventory(tmp_path, hosts: dict) -> str:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return str(path)


def test_ssh_config_supplies_hostname_user_key_and_known_hosts(lab, tmp_path):
    """A host named only by an alias: HostName, User, IdentityFile and UserKnownHostsFile all
    come from ~/.ssh/config, as OpenSSH (and Ansible) would take them."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host web-alias\n"
        f"    HostName {lab.addresses['node1']}\n"
        "    User root\n"
        f"    IdentityFile {lab.private_key}\n"
        f"    UserKnownHostsFile {lab.known_hosts}\n"
    )
    inventory = _inventory(tmp_path, {"web": {"ansible_host": "web-alias"}})
    env = {**os.environ, "HOME": str(home), "SSH_AUTH_SOCK": ""}
    done, rows = _exec(inventory, "--", "hostname", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows["web"]["stdout"].strip() == "node1"


def test_ssh_agent_supplies_the_key(lab, tmp_path):
    """No key in the inventory: the running ssh-agent holds it."""
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(50):
            if socket_path.exists():
                break
            subprocess.run(["sleep", "0.1"])
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path), "HOME": str(tmp_path)}
        subprocess.run(["ssh-add", lab.private_key], env=env, check=True, capture_output=True)
        inventory = _inventory(tmp_path, {"n2": {
            "ansible_host": lab.addresses["node2"], "ansible_user": "root",
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts}",
        }})  # fmt: skip
        done, rows = _exec(inventory, "--", "hostname", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert rows["n2"]["stdout"].strip() == "node2"
        # Without the agent (and no key anywhere) the same inventory cannot authenticate.
        env["SSH_AUTH_SOCK"] = ""
        done, rows = _exec(inventory, "--", "hostname", env=env)
        assert done.returncode == 4
        assert "authentication failed" in rows["n2"]["msg"]
    finally:
        agent.terminate()
        agent.wait()


def test_proxy_jump_goes_through_the_jump_host(lab, tmp_path):
    jump = lab.addresses["node1"]
    inventory = _inventory(tmp_path, {"behind": {
        "ansible_host": lab.addresses["node2"], "ansible_user": "root",
        "ansible_ssh_private_key_file": lab.private_key,
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts} -J root@{jump}",
    }})  # fmt: skip
    done, rows = _exec(inventory, "--", 'hostname; echo "$SSH_CLIENT"')
    assert done.returncode == 0, done.stdout + done.stderr
    name, client = rows["behind"]["stdout"].splitlines()
    assert name == "node2"
    assert client.split()[0] == jump  # the connection came from the jump host


def test_unreachable_jump_host_is_named(lab, tmp_path):
    inventory = _inventory(tmp_path, {"behind": {
        "ansible_host": lab.addresses["node2"], "ansible_user": "root",
        "ansible_ssh_private_key_file": lab.private_key,
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.known_hosts} -J root@{lab.addresses['node1']}:2",
    }})  # fmt: skip
    done, rows = _exec(inventory, "--", "true")
    assert done.returncode == 4
    assert rows["behind"]["msg"].startswith(f"jump host root@{lab.addresses['node1']}:2: ")
    assert "Traceback" not in done.stderr
