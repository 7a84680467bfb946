# Helpers shared by the scripts in this folder; sourced, never run.
# shellcheck shell=bash

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo ">> $*" >&2; }

die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# The command that installs Debian packages, with sudo for a normal user.
apt_install() {
  if [[ "$(id -u)" == 0 ]]; then echo "apt-get install -y $*"; else echo "sudo apt-get install -y $*"; fi
}

# Prints the grpcurl to use: $GRPCURL, then PATH, then where `go install` puts it
# ($(go env GOBIN), or the bin folder of $(go env GOPATH)).
find_grpcurl() {
  if [[ -n "${GRPCURL:-}" ]]; then
    [[ -x "$GRPCURL" ]] || die "GRPCURL=$GRPCURL is not an executable file. Unset it or run: make grpcurl"
    echo "$GRPCURL"
    return
  fi
  if command -v grpcurl >/dev/null; then
    command -v grpcurl
    return
  fi
  if command -v go >/dev/null; then
    local bin
    bin="$(go env GOBIN)"
    [[ -n "$bin" ]] || bin="$(go env GOPATH)/bin"
    if [[ -x "$bin/grpcurl" ]]; then
      echo "$bin/grpcurl"
      return
    fi
  fi
  die "grpcurl not found on PATH nor in \$(go env GOPATH)/bin. Install it with: make grpcurl"
}

# True when something accepts connections on the Unix socket $1.
socket_answers() {
  [[ -S "$1" ]] || return 1
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
EOF
}

# True when process $1 runs and its command line mentions $2, so a pid recycled by
# another program after a crash is never signalled.
process_is() {
  [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# Prints a path relative to the checkout when it lies inside it, for shorter commands.
rel() {
  case "$1" in
    "$root_dir"/*) echo "${1#"$root_dir"/}" ;;
    *) echo "$1" ;;
  esac
}
