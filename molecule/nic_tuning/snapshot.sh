# shellcheck shell=sh
# What the nic_tuning role may change on a gateway (run with sh -c by prepare.yml and
# check_changed_nothing.yml): queue counts, features, queue masks, its files and unit.
ethtool -l eth1 | sed -n '/Current/,$p'
ethtool -k eth1 | grep -e rx-udp-gro-forwarding
for f in /sys/class/net/eth1/queues/*/rps_cpus /sys/class/net/eth1/queues/*/rps_flow_cnt \
         /sys/class/net/eth1/queues/*/xps_cpus /sys/class/net/*/threaded; do
    printf '%s: %s\n' "$f" "$(cat "$f" 2>&1)"
done
for f in /etc/wgspread /etc/systemd/system/wgspread-nic-tuning.service \
         /etc/udev/rules.d/90-wgspread-nic-tuning.rules; do
    if [ -e "$f" ]; then echo "$f: exists"; else echo "$f: No such file"; fi
done
systemctl is-enabled wgspread-nic-tuning.service 2>&1 || true
