#!/usr/bin/env bash
# install.sh: make sure promtool and the prometheus server are on this machine (Debian/Ubuntu).
# Used by check.sh (rule checks) and before the integration tests (test/support/prometheus.ts runs
# /usr/bin/prometheus). Does nothing when both are already installed.
#
# Debian's package registers a prometheus service. Nothing here may leave a server running on :9090,
# so when the machine has no policy-rc.d of its own, one that denies every service start is put in
# place for the install and removed afterwards (the documented way to stop maintainer scripts from
# starting daemons). systemd machines are not touched: `deb-systemd-invoke` honours policy-rc.d too.
set -euo pipefail

if command -v promtool >/dev/null && [ -x /usr/bin/prometheus ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install.sh: promtool/prometheus missing and apt-get not found; install Prometheus 2.x so that promtool is on PATH and the server is at /usr/bin/prometheus (or set PROMETHEUS_BIN)" >&2
  exit 1
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

POLICY=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "install.sh: installing Debian's prometheus package (promtool + server; the service is not started)"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null && [ -x /usr/bin/prometheus ]
