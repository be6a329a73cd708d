# Shared by scripts/start and scripts/test: install what a fresh Debian machine with only Node and
# npm lacks. Sourced, not run.

say() { printf '==> %s\n' "$*" >&2; }

# Bun from npm when it is not on PATH (global install as root, else a user prefix).
ensure_bun() {
  if command -v bun >/dev/null 2>&1; then return; fi
  local user_prefix="$HOME/.local/share/sensormesh/npm"
  if [[ -x "$user_prefix/bin/bun" ]]; then export PATH="$user_prefix/bin:$PATH"; return; fi
  command -v npm >/dev/null 2>&1 || { echo "error: neither bun nor npm is installed; install Node.js and npm first" >&2; exit 1; }
  say "installing Bun from npm"
  if [[ -w "$(npm prefix -g 2>/dev/null)/lib" ]] || [[ "$(id -u)" == 0 ]]; then
    npm install -g --no-fund --no-audit bun >&2
  else
    npm install --prefix "$user_prefix" -g --no-fund --no-audit bun >&2
    export PATH="$user_prefix/bin:$PATH"
  fi
  command -v bun >/dev/null 2>&1 || { echo "error: Bun did not install; see the npm output above" >&2; exit 1; }
}

# Workspace dependencies, exactly as locked. Dependency install scripts stay blocked (bunfig.toml).
ensure_node_modules() {
  say "bun install --frozen-lockfile"
  bun install --frozen-lockfile >&2
}

_apt() {
  if [[ "$(id -u)" == 0 ]]; then DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@"; fi
}

# ensure_debian_packages binary:package ... installs each package whose binary is missing.
ensure_debian_packages() {
  local missing=() pair binary package
  for pair in "$@"; do
    binary="${pair%%:*}"; package="${pair#*:}"
    if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$binary" >/dev/null 2>&1; then missing+=("$package"); fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ "$(id -u)" != 0 ]] && ! sudo -n true 2>/dev/null; then
    echo "error: missing ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing ${missing[*]} and this machine has no apt-get; install them with your package manager" >&2
    return 1
  fi
  say "installing Debian packages: ${missing[*]}"
  # The package lists on a fresh machine are often empty or stale: update once if the first try fails.
  _apt install -y -qq --no-install-recommends "${missing[@]}" >&2 2>/dev/null \
    || { _apt update -qq >&2 && _apt install -y -qq --no-install-recommends "${missing[@]}" >&2; }
}
