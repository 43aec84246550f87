#!/usr/bin/env bash
# Secrets (docs/benchmarks.md, "Secrets"): `runguard run` of busybox `true` with two Vault KV v2
# secrets against the same run without secrets, and both against plain `runc run`, in the same
# rounds. The secrets come through runguardd (its token already read: a warm agent) and, in a
# second pair, through the one-shot `runguardctl helper secrets fetch` (no agent running).
# Vault is integration/vault_standin.py on 127.0.0.1 (a Python stand-in for Vault's API; its own
# time per request, ~1 ms, is part of the figures).
# Usage: scripts/bench_secrets.sh BIN_DIR [RUNS] [ROUNDS]. Needs root, runc, hyperfine, python3.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
runs=${2:-30}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench_secrets: run as root" >&2; exit 1; }
for tool in hyperfine python3 runc; do
  command -v "$tool" >/dev/null || { echo "bench_secrets: $tool missing" >&2; exit 1; }
done
runc=$(command -v runc)
work=$(mktemp -d /dev/shm/runguard-bench-secrets.XXXXXX)
chmod 711 "$work"
vault_pid= agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && { kill -TERM "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; }
  [ -n "$vault_pid" ] && { kill -TERM "$vault_pid" 2>/dev/null || true; wait "$vault_pid" 2>/dev/null || true; }
  for id in bs-runc bs-plain bs-agent bs-helper; do "$runc" --root "$work/runc" delete -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

python3 "$here/../integration/vault_standin.py" --port-file "$work/vault.port" >"$work/vault.log" 2>&1 &
vault_pid=$!
for _ in $(seq 100); do [ -s "$work/vault.port" ] && break; sleep 0.1; done
[ -s "$work/vault.port" ] || { echo "bench_secrets: the Vault stand-in did not start:" >&2; cat "$work/vault.log" >&2; exit 1; }
vault="http://127.0.0.1:$(cat "$work/vault.port")"
python3 - "$vault" "$work/vault-token" <<'PY'
import json, sys, urllib.request
def post(path, body):
    req = urllib.request.Request(sys.argv[1] + "/__standin/" + path, json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req))
token = post("token", {"paths": ["kv/data/app/*"], "ttl": 0})["token"]
post("kv2", {"mount": "kv", "path": "app/db", "data": {"password": "bench-db-password", "user": "app"}})
post("kv2", {"mount": "kv", "path": "app/api", "data": {"key": "bench-api-key"}})
open(sys.argv[2], "w").write(token)
PY
chmod 600 "$work/vault-token"

policy() {  # policy FILE AGENT_SOCKET_DIR
  cat > "$1" <<YAML
stateDir: $work/state
libDir: $work/lib
events: { path: $work/events.jsonl }
agent: { socket: $2/agent.sock, internalSocket: $2/agent.internal.sock, metrics: "" }
secrets:
  backend: vault
  vault: { address: $vault, timeout: 5s, auth: { method: token, tokenFile: $work/vault-token } }
  allow: [ { match: {}, paths: ["kv/data/app/*"] } ]
YAML
}
mkdir -p "$work/with-agent" "$work/no-agent"
policy "$work/policy-agent.yaml" "$work/with-agent"
policy "$work/policy-helper.yaml" "$work/no-agent"
"$bin/runguardd" --config "$work/policy-agent.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do [ -S "$work/with-agent/agent.internal.sock" ] && break; sleep 0.1; done
[ -S "$work/with-agent/agent.internal.sock" ] || { echo "bench_secrets: runguardd did not start:" >&2; cat "$work/agent.log" >&2; exit 1; }

"$here/mkbundle.py" "$work/plain" -- /bin/true >/dev/null
"$here/mkbundle.py" "$work/secret" -- /bin/true >/dev/null
python3 - "$work/secret/config.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.setdefault("annotations", {}).update({
    "secrets.runguard.dev/db-password": "vault:kv/data/app/db#password",
    "secrets.runguard.dev/api-key": "vault:kv/data/app/api#key"})
json.dump(spec, open(sys.argv[1], "w"))
PY
for b in plain secret; do cp "$work/$b/config.json" "$work/$b/config.orig"; done
# Warm up: the agent reads its token once; every run must succeed.
RUNGUARD_CONFIG="$work/policy-agent.yaml" "$bin/runguard" --root "$work/runc" run --bundle "$work/secret" bs-agent </dev/null >/dev/null \
  || { echo "bench_secrets: a run with secrets failed:" >&2; cat "$work/agent.log" >&2; exit 1; }
cp "$work/secret/config.orig" "$work/secret/config.json"
RUNGUARD_CONFIG="$work/policy-helper.yaml" "$bin/runguard" --root "$work/runc" run --bundle "$work/secret" bs-helper </dev/null >/dev/null \
  || { echo "bench_secrets: a run with secrets through the helper failed" >&2; exit 1; }

reset() { echo "cp $work/$1/config.orig $work/$1/config.json"; }
files=()
for r in $(seq "$rounds"); do
  hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$work/round-$r.json" \
    --prepare "$(reset plain)" "$runc --root $work/runc run --bundle $work/plain bs-runc" \
    --prepare "$(reset plain)" "env RUNGUARD_CONFIG=$work/policy-agent.yaml $bin/runguard --root $work/runc run --bundle $work/plain bs-plain" \
    --prepare "$(reset secret)" "env RUNGUARD_CONFIG=$work/policy-agent.yaml $bin/runguard --root $work/runc run --bundle $work/secret bs-agent" \
    --prepare "$(reset secret)" "env RUNGUARD_CONFIG=$work/policy-helper.yaml $bin/runguard --root $work/runc run --bundle $work/secret bs-helper" \
    >/dev/null 2>&1
  files+=("$work/round-$r.json")
done
echo "| what | baseline | candidate | added | ratio, median of rounds |"
echo "|---|---|---|---|---|"
"$here/bench_summary.py" "run, 2 KV secrets through runguardd vs no secrets" 1 2 --difference "${files[@]}"
"$here/bench_summary.py" "run, 2 KV secrets through the helper (no agent) vs no secrets" 1 3 --difference "${files[@]}"
"$here/bench_summary.py" "runguard run without secrets vs plain runc run" 0 1 --difference "${files[@]}"
"$here/bench_summary.py" "runguard run with 2 KV secrets (agent) vs plain runc run" 0 2 --difference "${files[@]}"
leftover=$(grep -c "$work" /proc/self/mountinfo || true)
[ "$leftover" -eq 0 ] || { echo "bench_secrets: $leftover mounts left under $work" >&2; exit 1; }
