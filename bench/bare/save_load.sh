#!/usr/bin/env bash
# The baseline for `orchestr image push`: what people do by hand, with OpenSSH.
#
#   bench/bare/save_load.sh [--save-once] KEY KNOWN_HOSTS USER IMAGE HOST...
#
# Default: `docker save IMAGE | ssh HOST docker load` for every host at once (one docker save
# per host). --save-once: `docker save` once into a temporary file, then `ssh HOST docker load
# < FILE` for every host at once. Host keys are checked against KNOWN_HOSTS only; no ssh config,
# no agent, no connection sharing. Prints `HOST rc=N LAST-OUTPUT-LINE` per host; exit 0 when
# every host loaded the image, else 2.
set -u -o pipefail

save_once=0
if [ "${1:-}" = "--save-once" ]; then
    save_once=1
    shift
fi
if [ $# -lt 5 ]; then
    echo "usage: $0 [--save-once] KEY KNOWN_HOSTS USER IMAGE HOST..." >&2
    exit 2
fi
key=$1 known_hosts=$2 user=$3 image=$4
shift 4

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ssh_to() {
    ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
        -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o ControlMaster=no -o ControlPath=none \
        -o ConnectTimeout=10 -l "$user" "$1" docker load
}

if [ $save_once = 1 ]; then
    docker save "$image" > "$out/image.tar" || exit 2
fi

pids=()
for host in "$@"; do
    if [ $save_once = 1 ]; then
        ssh_to "$host" < "$out/image.tar" > "$out/$host.log" 2>&1 &
    else
        docker save "$image" | ssh_to "$host" > "$out/$host.log" 2>&1 &
    fi
    pids+=($!)
done

status=0
index=0
for host in "$@"; do
    wait "${pids[$index]}"
    rc=$?
    index=$((index + 1))
    echo "$host rc=$rc $(tail -n 1 "$out/$host.log")"
    [ $rc = 0 ] || status=2
done
exit $status
