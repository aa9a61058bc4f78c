# Shared by the scripts in this directory (sourced, not run): the repository root, messages,
# and a cargo on PATH even under sudo (which drops ~/.cargo/bin from PATH).
# shellcheck shell=bash disable=SC2034

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me=scripts/$(basename "$0")

die() { echo "$me: $*" >&2; exit 1; }
step() { echo "==> $*"; }

find_cargo() {
  command -v cargo >/dev/null && return 0
  local home
  for home in "$HOME" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
    if [ -n "$home" ] && [ -x "$home/.cargo/bin/cargo" ]; then
      export PATH="$home/.cargo/bin:$PATH"
      if [ "$home" != "$HOME" ]; then
        export CARGO_HOME="$home/.cargo" RUSTUP_HOME="$home/.rustup"
      fi
      return 0
    fi
  done
  return 1
}
