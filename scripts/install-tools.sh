#!/usr/bin/env bash
# install-tools.sh - install the packet tools used to regenerate and check the
# golden oracle files (testdata/oracle) on Debian/Ubuntu:
#
#   tcpdump, tshark, tcptrace, libpcap-dev
#
# or, given as arguments, other Debian packages
# (scripts/install-tools.sh time tcpdump tcptrace argus-server).
#
# Idempotent and non-interactive: packages already installed are left alone,
# `apt-get update` runs at most once and only when a wanted package has no
# install candidate in the current package lists. Silent on success; on
# failure the apt output is printed to stderr. Must run as root (CI does) or
# with sudo available.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PKGS=(tcpdump tshark tcptrace libpcap-dev)
# Other packages may be named instead (scripts/linerate.sh does).
[ $# -gt 0 ] && PKGS=("$@")

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
	else
		echo "install-tools.sh: must run as root (or with sudo)" >&2
		exit 1
	fi
fi

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
	if ! "${SUDO[@]}" "$@" >>"$log" 2>&1; then
		echo "install-tools.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

# Refresh package lists once, only if some wanted package has no candidate.
need_update=0
for p in "${missing[@]}"; do
	cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		need_update=1
	fi
done
if [ "$need_update" -eq 1 ]; then
	run apt-get update -q
fi

# Do not make dumpcap setuid and do not ask about it.
if printf '%s\n' "${missing[@]}" | grep -qx tshark; then
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		run debconf-set-selections
fi

run apt-get install -y -q --no-install-recommends "${missing[@]}"

for p in "${PKGS[@]}"; do
	if ! installed "$p"; then
		echo "install-tools.sh: $p still not installed" >&2
		cat "$log" >&2
		exit 1
	fi
done
