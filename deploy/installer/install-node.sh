#!/bin/sh
# Installs runguard onto the node through host mounts, then keeps the policy in sync.
#   HOST_BIN  host's /usr/local/bin, mounted    HOST_ETC  host's /etc/runguard, mounted
#   POLICY    the policy from the ConfigMap     SRC       where the image keeps the binaries
# Every file lands by rename, so a runguard starting mid-install sees the old file or the new one,
# never half of one. A policy that does not validate is never installed.
set -eu
SRC=${SRC:-/opt/runguard/bin}
HOST_BIN=${HOST_BIN:?} HOST_ETC=${HOST_ETC:?} POLICY=${POLICY:?}
INTERVAL=${INTERVAL:-30}
READY=${READY:-/tmp/runguard-installed}   # the readiness probe reads it

put() {  # put SOURCE DEST MODE: atomic replace, only when the content differs
  if [ -f "$2" ] && cmp -s "$1" "$2"; then return 0; fi
  cp "$1" "$2.runguard-new" && chmod "$3" "$2.runguard-new" && mv -f "$2.runguard-new" "$2"
  echo "installed $2"
}

install_binaries() {
  # runguard-hook and runguard-monitor first: a runguard that adds the poststop hook or starts
  # a monitor must find them next to itself. runguardd is run by the DaemonSet's agent container
  # (or the systemd unit), not from here.
  for b in runguard-hook runguard-monitor runguardctl runguardd runguard; do put "$SRC/$b" "$HOST_BIN/$b" 0755; done
}

install_policy() {
  if ! "$SRC/runguardctl" validate "$POLICY"; then
    echo "policy $POLICY is invalid: keeping the node's current policy" >&2
    rm -f "$READY"
    return 1
  fi
  put "$POLICY" "$HOST_ETC/policy.yaml" 0644
}

mkdir -p "$HOST_BIN" "$HOST_ETC"
install_binaries
while :; do
  if install_policy; then touch "$READY"; status=0; else status=1; fi
  if [ "${ONCE:-}" = 1 ]; then exit "$status"; fi   # one pass (tests, init containers)
  sleep "$INTERVAL"
done
