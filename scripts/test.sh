#!/usr/bin/env bash
# Runs every test of hookwatch on this machine. Before the tests it makes sure what they need
# is there: PostgreSQL running on 127.0.0.1:5432, Debian's Chromium for the dashboard tests,
# openssl for the PostgreSQL TLS tests' certificates, python3 for the fixtures' signer. Safe
# to run again; it installs only what is missing.
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

ensure_chromium() {
  if command -v chromium >/dev/null; then return; fi
  if command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
}

ensure_openssl() {
  # The PostgreSQL TLS tests make their certificates with the openssl CLI.
  if command -v openssl >/dev/null; then return; fi
  if command -v apt-get >/dev/null; then
    echo "installing openssl for the PostgreSQL TLS tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
  fi
}

ensure_postgres
ensure_chromium
ensure_openssl
command -v python3 >/dev/null || { echo "python3 is needed to sign test requests" >&2; exit 1; }

cargo test --locked
# The benchmarks must keep compiling; running them is `cargo bench` (see README).
cargo test --locked --benches --no-run
