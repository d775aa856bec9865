#!/usr/bin/env bash
# The scenario's podman network, with a subnet of our own (a documentation range that
# overlaps nothing on these machines, nor the other scenarios and labs: 198.19.10.0/24,
# 198.51.100.0/24). molecule's podman driver deletes the network in destroy but cannot
# give it a subnet, so this runs as the dependency step, after the first destroy and
# before create (create then finds the network and keeps it).
set -euo pipefail
net=wgspread-molecule-nic
subnet=198.19.20.0/24
if ! podman network exists "$net"; then
    podman network create --label wgspread.lab=1 --subnet "$subnet" "$net" >/dev/null
fi
echo "podman network $net: $subnet"
