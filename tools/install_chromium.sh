#!/usr/bin/env bash
# The site tests open the book in Debian's headless Chromium. Installed here, by the project's
# own set-up, because CI and new machines start without it.
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium)" \
       "to run the browser tests; they are skipped without it outside CI." >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
