#!/bin/sh
# Entry point of a lab host container (run under docker's --init): start the host's own dockerd,
# then sshd in the foreground. Keys come read-only from the controller (see lab/commands.py).
set -eu
keys=/etc/ssh/orchestr-lab

# Nested containers go in a cgroup below this host's own one (cgroup v1), so `lab pause`
# freezes them with the host and `lab kill` takes them down with it. On cgroup v2 a cgroup
# holding processes cannot have children, so use a separate top-level parent there.
if [ -d /sys/fs/cgroup/freezer ]; then
    own=$(awk -F: '$2 == "freezer" { print $3 }' /proc/self/cgroup)
    parent="${own%/}/nested"
else
    parent="${ORCHESTR_LAB_CGROUP}"
fi
mkdir -p /run/sshd /var/log
dockerd --cgroup-parent="$parent" >/var/log/dockerd.log 2>&1 &

exec /usr/sbin/sshd -D -e \
    -h "$keys/ssh_host_ed25519_key" \
    -o AuthorizedKeysFile="$keys/authorized_keys" \
    -o PermitRootLogin=prohibit-password \
    -o PasswordAuthentication=no \
    -o UseDNS=no \
    -o MaxStartups=200:30:400
