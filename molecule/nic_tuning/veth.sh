#!/usr/bin/env bash
# Run on the podman host by prepare.yml: a veth pair with 4 RX and 4 TX queues between two
# containers, named eth1 in each, with the addresses given. The pair lives in the
# containers' network namespaces and goes away with them (molecule destroy).
#   veth.sh CONTAINER_A ADDRESS_A CONTAINER_B ADDRESS_B
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 CONTAINER_A ADDRESS_A CONTAINER_B ADDRESS_B" >&2; exit 2; }
a=$1 address_a=$2 b=$3 address_b=$4
# Host-side names while the ends pass through the host's namespace (unique to this scenario).
host_a=wgsnic-a host_b=wgsnic-b

pid_of() { podman inspect --format '{{.State.Pid}}' "$1"; }
pid_a=$(pid_of "$a")
pid_b=$(pid_of "$b")

if nsenter -t "$pid_a" -n ip link show eth1 >/dev/null 2>&1 &&
   nsenter -t "$pid_b" -n ip link show eth1 >/dev/null 2>&1; then
    echo "unchanged: eth1 is there in $a and $b"
    exit 0
fi
# Left over from an interrupted run: deleting one end deletes the pair.
ip link del "$host_a" 2>/dev/null || true
ip link add "$host_a" numrxqueues 4 numtxqueues 4 type veth peer name "$host_b" numrxqueues 4 numtxqueues 4
ip link set "$host_a" netns "$pid_a"
ip link set "$host_b" netns "$pid_b"
for side in "$pid_a $host_a $address_a" "$pid_b $host_b $address_b"; do
    read -r pid name address <<<"$side"
    nsenter -t "$pid" -n ip link set "$name" name eth1
    nsenter -t "$pid" -n ip address add "$address" dev eth1
    nsenter -t "$pid" -n ip link set eth1 up
done
echo "changed: eth1 $a $address_a <-> eth1 $b $address_b (4 RX/4 TX queues)"
