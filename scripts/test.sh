#!/usr/bin/env bash
# Runs every test of hookwatch on this machine. Before the tests it makes sure what they need
# is there: PostgreSQL running on 127.0.0.1:5432, Debian's Chromium for the dashboard tests,
# openssl for the PostgreSQL TLS tests' certificates, systemd-analyze for
# checking contrib/hookwatch.service, python3 for the fixtures' signer, NATS (with
# JetStream), RabbitMQ and Redis on their usual ports for the broker targets, and
# openapi-spec-validator and schemathesis (in a virtual environment under target/) for the
# API document's tests. Safe to run again; it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then return; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && return; sleep 1; done
  fi
  echo "PostgreSQL is not reachable on 127.0.0.1:5432; its tests will fail in CI" >&2
}

# Installs Debian's package $2 when the command $1 is missing; $3 says which tests need it.
ensure_command() {
  if command -v "$1" >/dev/null; then return; fi
  if command -v apt-get >/dev/null; then
    echo "installing $2 for $3"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
  fi
}

# Whether something listens on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits up to $3 seconds for $2 to listen on port $1.
wait_port() {
  local deadline=$((SECONDS + $3))
  while ! listening "$1"; do
    if ((SECONDS >= deadline)); then
      echo "$2 did not start listening on 127.0.0.1:$1; its tests will fail" >&2
      return
    fi
    sleep 0.2
  done
}

# The brokers that the broker-target tests publish to, each on its usual loopback port.
ensure_brokers() {
  if ! listening 4222; then
    ensure_command nats-server nats-server "the NATS JetStream tests"
    echo "starting nats-server with JetStream"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server || echo "nats-server failed to start" >&2
    wait_port 4222 nats-server 30
  fi
  if ! listening 5672; then
    ensure_command rabbitmq-server rabbitmq-server "the RabbitMQ tests"
    echo "starting RabbitMQ"
    rabbitmq-server -detached || echo "rabbitmq-server -detached failed" >&2
    wait_port 5672 RabbitMQ 120
  fi
  if ! listening 6379; then
    ensure_command redis-server redis-server "the Redis Streams tests"
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      || echo "redis-server failed to start" >&2
    wait_port 6379 Redis 30
  fi
}

# The Python tools the API document's tests run (tests/api/openapi.rs finds them here).
ensure_python_tools() {
  local venv=target/pytools
  if [ -x "$venv/bin/schemathesis" ] && [ -x "$venv/bin/openapi-spec-validator" ]; then return; fi
  echo "installing schemathesis and openapi-spec-validator in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
}

ensure_postgres
ensure_brokers
ensure_command chromium chromium "the browser tests"
ensure_command openssl openssl "the PostgreSQL TLS tests (they make certificates)"
ensure_command systemd-analyze systemd "the systemd unit check"
command -v python3 >/dev/null || { echo "python3 is needed to sign test requests" >&2; exit 1; }
ensure_python_tools

# The code must stay formatted and lint-free; both are quick next to the tests.
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
# The benchmarks must keep compiling; running them is `cargo bench` (see README).
cargo test --locked --benches --no-run
