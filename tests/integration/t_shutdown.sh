#!/usr/bin/env bash
# t_shutdown: SIGTERM ends the daemon within its grace time even when a
# backend call never returns (over /dev/fuse here; t_io_uring does the same
# over the rings). The hung call is the faulty wrapper's delay on statfs.
IT_NAME=t_shutdown
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

write_config "$WORK/hung.yaml" <<EOC
mountpoint: $MNT
fuse: {threads: 2, max_threads: 8}
mounts:
  - {path: /mem, type: memfs}
  - {path: /hung, type: memfs, faults: {rate: 0, delay_ms: 3600000, ops: [statfs]}}
EOC
mount_or_die "$WORK/hung.yaml"
ok "the other mount is served" sh -c "echo x >'$MNT/mem/x' && cat '$MNT/mem/x'"
check_term_with_hung_call "/dev/fuse" "$MNT/hung"
is_mounted "$MNT" && it_fail "nothing left mounted at the end" || it_pass "nothing left mounted at the end"

# Without a hung call SIGTERM is the clean stop it always was.
mount_or_die "$WORK/hung.yaml"
stop_daemon "$DPID" TERM
eq "no hung call: SIGTERM exits 0" 0 "$DAEMON_RC"

summary
