#!/usr/bin/env bash
# The browser test during a demo run: starts `truce demo --fast --keep` on a fresh data
# directory and a free loopback port, runs tests/dashboard.mjs against its dashboard while
# the day streams in, then waits for the demo to finish its summary (which checks the
# bulletin against GET /v1/findings and audits the log) and stops it with Ctrl-C.
# Usage: web/tests/with-demo.sh TRUCE_BINARY SCREENSHOT_PNG
set -euo pipefail
truce="$1"
screenshot="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
data="$(mktemp -d)"
log="$data/demo.log"
"$truce" demo --fast --keep --data "$data/server" --listen 127.0.0.1:0 >"$log" 2>&1 &
demo=$!
cleanup() {
    # Ctrl-C stops the demo (at once while it streams, gracefully once it has finished);
    # should it not within 30 s, it is killed, so that a failed test never hangs CI.
    kill -INT "$demo" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$demo" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$demo" 2>/dev/null || true
    wait "$demo" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
fail() {
    echo "with-demo: $1" >&2
    echo "---- demo output" >&2
    cat "$log" >&2
    exit 1
}
for _ in $(seq 600); do
    [ -s "$data/server/demo-accounts.json" ] && break
    kill -0 "$demo" 2>/dev/null || fail "the demo stopped before creating its accounts"
    sleep 0.2
done
url="$(sed -n 's/^truce demo: the dashboard is at \(http[^ ]*\) .*/\1/p' "$log" | head -1)"
[ -n "$url" ] || fail "the demo printed no dashboard URL"
echo "with-demo: dashboard at $url"
node "$here/tests/dashboard.mjs" "$url" "$data/server/demo-accounts.json" "$screenshot" || fail "the browser test failed"
for _ in $(seq 1800); do
    grep -q "^the server keeps running" "$log" && break
    kill -0 "$demo" 2>/dev/null || fail "the demo failed"
    sleep 0.2
done
grep -q "^the server keeps running" "$log" || fail "the demo did not finish in 6 minutes"
grep -v "^  [a-z]* *[a-z-]* *truce_" "$log"
