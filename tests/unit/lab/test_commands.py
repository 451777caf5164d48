"""docker and ssh argv built for the lab (pure): exact strings, so a change is a visible diff."""

import shlex

from orchestr.lab import commands
from orchestr.lab.model import LabHost


def test_run_host_argv():
    host = LabHost("t", "node2", "node", "198.18.0.3", "b")
    argv = commands.run_host(host, "orchestr-lab-host:abc", "/state/labs/t/hosts/node2")
    assert shlex.join(argv) == (
        "docker run --detach --init --name orchestr-t-node2 --hostname node2 "
        "--network orchestr-lab --ip 198.18.0.3 --tmpfs /run:exec,mode=755 "
        "-v orchestr-t-node2-docker:/var/lib/docker "
        "-v /state/labs/t/hosts/node2:/etc/ssh/orchestr-lab:ro "
        "--env ORCHESTR_LAB_CGROUP=/orchestr-t-node2 "
        "--cap-add=ALL --cap-drop=SYS_RESOURCE --security-opt seccomp=unconfined "
        "--security-opt apparmor=unconfined --security-opt systempaths=unconfined "
        "'--device-cgroup-rule=a *:* rwm' --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw "
        "--label orchestr.lab=t --label orchestr.lab.host=node2 --label orchestr.lab.role=node "
        "--label orchestr.lab.zone=b --label orchestr.lab.image=orchestr-lab-host:abc "
        "orchestr-lab-host:abc"
    )


def test_network_is_the_benchmarking_range_with_the_controller_as_gateway():
    assert shlex.join(commands.network_create()) == (
        "docker network create --driver bridge --subnet 198.18.0.0/24 --gateway 198.18.0.1 "
        "--opt com.docker.network.bridge.name=orchestr-lab0 --label orchestr.lab.network=1 "
        "orchestr-lab"
    )


def test_partition_drops_both_directions_on_the_lab_interface_only():
    script = commands.partition_script("198.18.0.3")
    assert "ip -o -4 addr show to 198.18.0.3" in script
    assert 'iptables -w -t raw -A ORCHESTR_PARTITION -i "$dev" -j DROP' in script
    assert 'iptables -w -t mangle -A ORCHESTR_PARTITION -o "$dev" -j DROP' in script
    # Idempotent: the jump is added only when it is not there yet.
    assert "iptables -w -t raw -C PREROUTING -j ORCHESTR_PARTITION 2>/dev/null ||" in script


def test_partition_quotes_the_address():
    assert "show to '1.2.3.4; rm -rf /'" in commands.partition_script("1.2.3.4; rm -rf /")


def test_heal_removes_what_partition_added_and_never_fails():
    script = commands.heal_script()
    assert "-D PREROUTING -j ORCHESTR_PARTITION" in script
    assert "-D POSTROUTING -j ORCHESTR_PARTITION" in script
    assert script.endswith("true")


def test_load_image_needs_no_registry_and_no_ssh():
    save, load = commands.load_image_pipeline("orchestr-demo:1", "orchestr-t-node1")
    assert save == ["docker", "save", "orchestr-demo:1"]
    assert load == [
        "docker", "exec", "--interactive", "orchestr-t-node1", "docker", "load", "--quiet",
    ]  # fmt: skip


def test_openssh_argv_checks_host_keys_and_passes_the_command_as_words():
    argv = commands.openssh("198.18.0.2", "/k/id", "/k/known_hosts", ["docker", "ps"])
    assert argv == [
        "ssh", "-i", "/k/id", "-o", "UserKnownHostsFile=/k/known_hosts",
        "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
        "root@198.18.0.2", "docker", "ps",
    ]  # fmt: skip
