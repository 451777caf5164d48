"""docker argv lists that create, inspect and break lab hosts (pure: built here, run elsewhere)."""

from __future__ import annotations

import shlex

from orchestr.lab.model import (
    BRIDGE_NAME,
    LAB_GATEWAY,
    LAB_SUBNET,
    LABEL_HOST,
    LABEL_IMAGE,
    LABEL_LAB,
    LABEL_ROLE,
    LABEL_ZONE,
    NETWORK_NAME,
    LabHost,
    volume_name,
)

# Where a host's sshd finds its host key and the lab's authorized key (a read-only bind mount
# of the lab's directory on the controller): the keys exist before the container starts, so
# known_hosts is written without waiting for the host, and they survive `lab restart`.
HOST_SSH_DIR = "/etc/ssh/orchestr-lab"

# What a nested dockerd needs, measured here: --privileged fails on this machine (no
# CAP_SYS_RESOURCE), so grant everything else explicitly.
_DOCKER_IN_DOCKER = [
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined",
    "--device-cgroup-rule=a *:* rwm",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
]  # fmt: skip


def network_create() -> list[str]:
    return [
        "docker", "network", "create",
        "--driver", "bridge",
        "--subnet", str(LAB_SUBNET),
        "--gateway", str(LAB_GATEWAY),
        "--opt", f"com.docker.network.bridge.name={BRIDGE_NAME}",
        "--label", f"{LABEL_LAB}.network=1",
        NETWORK_NAME,
    ]  # fmt: skip


def run_host(host: LabHost, image: str, ssh_dir: str) -> list[str]:
    """`docker run` for one lab host; `ssh_dir` is the controller folder holding its keys."""
    labels = {
        LABEL_LAB: host.lab,
        LABEL_HOST: host.name,
        LABEL_ROLE: host.role,
        LABEL_ZONE: host.zone,
        LABEL_IMAGE: image,
    }
    argv = [
        "docker", "run", "--detach", "--init",
        "--name", host.container,
        "--hostname", host.name,
        "--network", NETWORK_NAME,
        "--ip", host.address,
        # /run is fresh on every start, so no stale pid file stops dockerd after a kill.
        "--tmpfs", "/run:exec,mode=755",
        "-v", f"{volume_name(host.lab, host.name)}:/var/lib/docker",
        "-v", f"{ssh_dir}:{HOST_SSH_DIR}:ro",
        "--env", f"ORCHESTR_LAB_CGROUP=/{host.container}",
    ]  # fmt: skip
    argv += _DOCKER_IN_DOCKER
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    argv.append(image)
    return argv


def list_lab_containers(lab: str | None = None) -> list[str]:
    selector = f"{LABEL_LAB}={lab}" if lab else LABEL_LAB
    return ["docker", "ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={selector}"]


def inspect(*names: str) -> list[str]:
    return ["docker", "inspect", *names]


def remove_containers(*names: str) -> list[str]:
    return ["docker", "rm", "--force", "--volumes", *names]


def remove_volumes(*names: str) -> list[str]:
    return ["docker", "volume", "rm", "--force", *names]


def docker_exec(container: str, script: str, *, stdin: bool = False) -> list[str]:
    argv = ["docker", "exec"]
    if stdin:
        argv.append("--interactive")
    return [*argv, container, "sh", "-c", script]


# A partition drops every packet on the lab interface, in both directions and for forwarded
# traffic too (published ports of the host's own containers), before conntrack sees it: like a
# pulled cable, existing connections hang rather than being reset. The rules live in the host's
# network namespace, so the host itself keeps running and a restart heals it.
PARTITION_CHAIN = "ORCHESTR_PARTITION"


def partition_script(address: str) -> str:
    dev = f"$(ip -o -4 addr show to {shlex.quote(address)} | awk '{{print $2}}')"
    return (
        f"dev={dev}; "
        'test -n "$dev" || { echo "no interface holds the lab address" >&2; exit 1; }; '
        f"for t in raw mangle; do iptables -w -t $t -N {PARTITION_CHAIN} 2>/dev/null || true; "
        f"iptables -w -t $t -F {PARTITION_CHAIN}; done; "
        f'iptables -w -t raw -A {PARTITION_CHAIN} -i "$dev" -j DROP; '
        f'iptables -w -t mangle -A {PARTITION_CHAIN} -o "$dev" -j DROP; '
        f"iptables -w -t raw -C PREROUTING -j {PARTITION_CHAIN} 2>/dev/null || "
        f"iptables -w -t raw -I PREROUTING -j {PARTITION_CHAIN}; "
        f"iptables -w -t mangle -C POSTROUTING -j {PARTITION_CHAIN} 2>/dev/null || "
        f"iptables -w -t mangle -I POSTROUTING -j {PARTITION_CHAIN}"
    )


def heal_script() -> str:
    return (
        f"iptables -w -t raw -D PREROUTING -j {PARTITION_CHAIN} 2>/dev/null; "
        f"iptables -w -t mangle -D POSTROUTING -j {PARTITION_CHAIN} 2>/dev/null; "
        f"for t in raw mangle; do iptables -w -t $t -F {PARTITION_CHAIN} 2>/dev/null; "
        f"iptables -w -t $t -X {PARTITION_CHAIN} 2>/dev/null; done; true"
    )


def is_partitioned_script() -> str:
    return f"iptables -w -t raw -C PREROUTING -j {PARTITION_CHAIN} 2>/dev/null"


def load_image_pipeline(image: str, container: str) -> tuple[list[str], list[str]]:
    """`docker save IMAGE | docker exec -i HOST docker load`: no registry, no SSH needed."""
    return (
        ["docker", "save", image],
        ["docker", "exec", "--interactive", container, "docker", "load", "--quiet"],
    )


def host_key_options(known_hosts: str) -> list[str]:
    """OpenSSH options that check host keys against the lab's own file and offer only the
    lab's key: for `lab ssh` and, through the inventory, for ansible-core."""
    return [
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes",
    ]  # fmt: skip


def openssh(address: str, private_key: str, known_hosts: str, command: list[str]) -> list[str]:
    argv = [
        "ssh", "-i", private_key, *host_key_options(known_hosts),
        "-o", "LogLevel=ERROR",
        f"root@{address}",
    ]  # fmt: skip
    # After the destination, ssh takes every word as the remote command: no "--" needed.
    return argv + command
