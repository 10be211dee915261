#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs cmake and gcc if they are
# missing, builds, and runs the demo (seed 002's walkthrough and seed 004's
# fragmentation story on a static 8 KiB heap), which also writes the story's
# report, build/seed004-report.html (docs/report.md), and prints its path.
# Arguments, if any, go to `mpgc` instead.
set -eu
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! command -v cc >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cmake make gcc libc6-dev >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target mpgc_tool >/dev/null
[ $# -gt 0 ] || set -- demo --report "$PWD/build/seed004-report.html"
exec ./build/mpgc "$@"
