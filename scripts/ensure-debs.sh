#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when they are missing.
# Each entry is "command-that-must-exist:debian-package"; a command given as a path
# (containing '/') may be any file that must exist, e.g. a plugin's shared library.
set -euo pipefail
needed=()
for pair in "$@"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  if [[ $cmd == */* ]]; then
    [ -e "$cmd" ] || needed+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || needed+=("$pkg")
  fi
done
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "installing Debian packages: ${needed[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${needed[@]}" >/dev/null
