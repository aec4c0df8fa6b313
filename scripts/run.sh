#!/usr/bin/env bash
# `make run`: the whole portal on one machine, for a demo or development.
#
# migrate, demo data, admin user, then in the background: the web server (gunicorn), the delivery
# worker and the demo receiver. Ctrl-C (or SIGTERM) stops everything this script started, and
# Ctrl-C ends with 0; if one of them dies, the rest are stopped too and the script exits non-zero.
#
# Environment: PORT (default 8000), DATABASE_URL (default: SQLite file db.sqlite3), REDIS_URL
# (default: the local Redis on 127.0.0.1:$LOCAL_REDIS_PORT if it answers, else a private
# redis-server started here), LOCAL_REDIS_PORT (default 6379), ADMIN_PASSWORD (see ensure_admin).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY="$ROOT/.venv/bin/python"
PORT=${PORT:-8000}
RECEIVER_PORT=8001 # load_demo_data's endpoints point at it
LOCAL_REDIS_PORT=${LOCAL_REDIS_PORT:-6379}
RUN_DIR="$ROOT/.run"

export DJANGO_SETTINGS_MODULE=config.settings.local
export PYTHONUNBUFFERED=1 # children's output appears as it happens, not when a buffer fills

say() { printf 'make run: %s\n' "$*"; }
die() {
  printf 'make run: %s\n' "$*" >&2
  exit 1
}

[[ -x $PY ]] || die "$PY is missing; run 'make run' (it creates .venv) rather than this script."

# --- Processes this script started, stopped on the way out --------------------------------------
PIDS=()
NAMES=()
STOPPING=0
FORCE=0
NAP=""

stop_all() {
  local code=$1
  if [[ $STOPPING == 1 ]]; then return; fi
  STOPPING=1
  # A second Ctrl-C while stopping kills what is left at once, rather than leaving it behind.
  trap 'FORCE=1' INT TERM HUP
  trap - EXIT
  # Nothing may end this function early: every process must get its stop.
  set +e
  if [[ -n $NAP ]]; then kill "$NAP" 2>/dev/null; fi
  # Stop in reverse order of start, so the private Redis (started first) goes last.
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping ${NAMES[i]} (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      # The worker finishes the postbacks in flight; give each process up to 30 s.
      for _ in $(seq 300); do
        if [[ $FORCE == 1 ]] || ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        say "${NAMES[i]} (pid $pid) has not stopped; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${#PIDS[@]} -gt 0 ]]; then say "everything it started has stopped"; fi
  exit "$code"
}
# Ctrl-C is how a person stops `make run`: a clean stop, not a failure (make would print
# "Error 130" for a non-zero code).
trap 'stop_all 0' INT
trap 'stop_all 143' TERM
trap 'stop_all 129' HUP
trap 'stop_all $?' EXIT

# start NAME COMMAND...: run COMMAND in the background, its output prefixed with [NAME].
# Job control (set -m) while forking gives the process its own process group, so Ctrl-C in the
# terminal reaches only this script, which then stops each process once, with SIGTERM (a second
# signal would make the worker drop the postbacks it has in flight).
start() {
  local name=$1
  shift
  set -m
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  set +m
  PIDS+=("$!")
  NAMES+=("$name")
}

port_free() {
  "$PY" - "$1" <<'EOF'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) else 1)
EOF
}

redis_answers() {
  "$PY" - "$1" <<'EOF' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_timeout=1, socket_connect_timeout=1).ping()
EOF
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS DESCRIPTION COMMAND...: retry COMMAND until it succeeds or time runs out.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 4))); do
    "$@" && return 0
    for i in "${!PIDS[@]}"; do
      kill -0 "${PIDS[i]}" 2>/dev/null || die "${NAMES[i]} exited while waiting for $what"
    done
    sleep 0.25
  done
  die "$what did not come up within $seconds s"
}

# --- Ports --------------------------------------------------------------------------------------
port_free "$PORT" || die "port $PORT is in use; stop what uses it or choose another: PORT=8080 make run"
port_free "$RECEIVER_PORT" ||
  die "port $RECEIVER_PORT (the demo receiver's) is in use; stop what uses it, then retry"

# --- Redis --------------------------------------------------------------------------------------
if [[ -n ${REDIS_URL:-} ]]; then
  redis_answers "$REDIS_URL" || die "REDIS_URL=$REDIS_URL does not answer; start that Redis or unset REDIS_URL"
  say "Redis: $REDIS_URL (from REDIS_URL)"
elif redis_answers "redis://127.0.0.1:$LOCAL_REDIS_PORT/0"; then
  export REDIS_URL="redis://127.0.0.1:$LOCAL_REDIS_PORT/0"
  say "Redis: the local one, $REDIS_URL"
elif command -v redis-server >/dev/null; then
  mkdir -p "$RUN_DIR"
  redis_port=$(free_port)
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
  say "Redis: none on 127.0.0.1:$LOCAL_REDIS_PORT; starting a private redis-server, $REDIS_URL (log: .run/redis.log; it stops with make run)"
  start redis redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize no \
    --save "" --appendonly no --dir "$RUN_DIR" --logfile "$RUN_DIR/redis.log"
  wait_until 10 "the private redis-server" redis_answers "$REDIS_URL"
else
  die "no Redis: REDIS_URL is unset, nothing answers on 127.0.0.1:$LOCAL_REDIS_PORT, and redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL."
fi

# --- Database, demo data, admin -----------------------------------------------------------------
if [[ -n ${DATABASE_URL:-} ]]; then
  say "Database: DATABASE_URL (${DATABASE_URL%%://*})"
else
  say "Database: SQLite file db.sqlite3 (set DATABASE_URL for PostgreSQL)"
fi
"$PY" manage.py migrate --noinput
"$PY" manage.py load_demo_data
"$PY" manage.py load_demo_traffic
admin_login=$("$PY" manage.py ensure_admin --username admin)
"$PY" manage.py collectstatic --noinput -v 0

# --- The processes ------------------------------------------------------------------------------
# Demo only: postbacks are sent to public addresses only (SPEC §6); the demo receiver is on
# 127.0.0.1, so the worker (and the web process, for test postbacks) may reach it here.
export POSTBACK_ALLOWED_NETWORKS="${POSTBACK_ALLOWED_NETWORKS:+$POSTBACK_ALLOWED_NETWORKS,}127.0.0.1/32"
say "demo setting: POSTBACK_ALLOWED_NETWORKS=$POSTBACK_ALLOWED_NETWORKS (never allow loopback in production)"
# Setup requests of affiliates without an account manager are mailed here (console backend).
export SETUP_NOTIFY_EMAIL="${SETUP_NOTIFY_EMAIL:-account-managers@localhost}"

start receiver "$PY" manage.py demo_receiver --port "$RECEIVER_PORT"
start worker "$PY" manage.py run_delivery_worker
start web "$ROOT/.venv/bin/gunicorn" config.wsgi --bind "127.0.0.1:$PORT" --workers 2 \
  --access-logfile - --graceful-timeout 10

admin_up() {
  "$PY" - "http://127.0.0.1:$PORT/admin/login/" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
EOF
}
wait_until 30 "the web server" admin_up

cat <<EOF

==================================================================================================
 Postback portal is running.

   Portal (admin):  http://127.0.0.1:$PORT/admin/
   Login:           user admin
$(sed 's/^/                    /' <<<"$admin_login")
   API docs:        http://127.0.0.1:$PORT/api/docs/
   Demo receiver:   http://127.0.0.1:$RECEIVER_PORT/  (its postbacks print below as [receiver])

 An API token for ingest (in another terminal, in $ROOT):
   .venv/bin/python manage.py create_api_token ingest-demo --scope ingest

 Post a sale of demo affiliate 1234567 on demo PPS offer 66013:
   curl -i -X POST http://127.0.0.1:$PORT/api/v1/conversions/ \\
     -H "Authorization: Token <the token>" -H "Content-Type: application/json" \\
     -d '{"transaction_id":"tx-1001","event":"signup","offer_id":66013,
          "tracker":"trID_1234567_aff9-tx77-c0ffee_trID","amount":"35.00"}'
 The postback shows up below as [receiver] lines, and under Postbacks > Deliveries in the admin.

 Ctrl-C stops everything.
==================================================================================================

EOF

# --- Watch: if one process dies, stop the rest and fail -----------------------------------------
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      code=0
      wait "${PIDS[i]}" || code=$?
      say "${NAMES[i]} (pid ${PIDS[i]}) exited with status $code; stopping the rest"
      stop_all 1
    fi
  done
  # `wait` on a background sleep returns at once when a signal arrives; a plain sleep would not.
  sleep 1 &
  NAP=$!
  wait "$NAP" || true
done
