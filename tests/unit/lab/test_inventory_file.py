"""The lab's inventory file, read back by ansible-inventory itself (the oracle)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from orchestr.lab.inventory_file import render_inventory
from orchestr.lab.model import plan_hosts

ANSIBLE_INVENTORY = Path(sys.executable).with_name("ansible-inventory")


def _render(tmp_path: Path, lb: bool) -> Path:
    hosts = plan_hosts("t", 4, lb, {}, [])
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory("t", hosts, "/keys/id_ed25519", "/keys/known hosts"))
    return path


def test_groups_and_host_vars(tmp_path):
    document = yaml.safe_load(_render(tmp_path, lb=True).read_text())
    lab = document["all"]["children"]["lab"]["children"]
    assert list(lab["nodes"]["hosts"]) == ["node1", "node2", "node3", "node4"]
    assert lab["nodes"]["hosts"]["node4"] == {"ansible_host": "198.18.0.5", "zone": "a"}
    assert lab["lb"]["hosts"] == {"lb1": {"ansible_host": "198.18.0.6"}}
    common = document["all"]["vars"]
    assert common["ansible_user"] == "root"
    assert common["ansible_ssh_private_key_file"] == "/keys/id_ed25519"
    # A path with a space survives OpenSSH's option parsing because it is quoted.
    assert "'UserKnownHostsFile=/keys/known hosts'" in common["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in common["ansible_ssh_common_args"]


def test_no_lb_group_without_lb(tmp_path):
    document = yaml.safe_load(_render(tmp_path, lb=False).read_text())
    assert "lb" not in document["all"]["children"]["lab"]["children"]


def test_ansible_reads_it_as_intended(tmp_path):
    path = _render(tmp_path, lb=True)
    env = {**os.environ, "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}  # fmt: skip
    assert shutil.which(str(ANSIBLE_INVENTORY)), "ansible-core is a dev dependency"
    out = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(path), "--list"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    listing = json.loads(out.stdout)
    assert listing["all"]["children"] == ["ungrouped", "lab"]
    assert listing["lab"]["children"] == ["nodes", "lb"]
    assert listing["nodes"]["hosts"] == ["node1", "node2", "node3", "node4"]
    assert listing["lb"]["hosts"] == ["lb1"]
    node2 = listing["_meta"]["hostvars"]["node2"]
    assert node2["ansible_host"] == "198.18.0.3"
    assert node2["zone"] == "b"
    assert node2["ansible_python_interpreter"] == "/usr/bin/python3"
