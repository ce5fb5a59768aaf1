#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, once. Safe to run again.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing and this is not root: run 'sudo apt-get install -y chromium' (the browser test is skipped until then)." >&2
  exit 0
fi
echo "Installing Debian's chromium for the email preview test…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
