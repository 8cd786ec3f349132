#!/usr/bin/env bash
# Browser check of `ganeval report`: install Chromium if it is missing (Debian/Ubuntu), then run
# the tests marked `browser` (they open a report's index.html in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
   && [ -z "${CHROMIUM:-}" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium
fi
PY="${PYTHON:-.venv/bin/python}"
GANEVAL_REQUIRE_BROWSER=1 "$PY" -m pytest -q -m browser "$@"
