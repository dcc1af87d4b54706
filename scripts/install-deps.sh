#!/usr/bin/env bash
# Install everything the test suite needs: the real beanstalkd (the oracle every behaviour test is also run
# against), the Node, PHP and Ruby clients of tests/polyglot, and the project with its test extras. Safe to
# run again: it skips what is already in place.
#
#   PYTHON=/path/to/python   the interpreter to install into (default: python3, else python)
#   BEANSTALKD=/path/to/bin  use this beanstalkd instead of the one on PATH
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-$(command -v python3 || command -v python || true)}
if [ -z "$PYTHON" ]; then
    echo "install-deps: no python3 on PATH (set PYTHON=/path/to/python3.10+)" >&2
    exit 2
fi

have_beanstalkd() {
    if [ -n "${BEANSTALKD:-}" ]; then
        [ -x "$BEANSTALKD" ]
    else
        command -v beanstalkd >/dev/null 2>&1 || [ -x /usr/bin/beanstalkd ]
    fi
}

# --- the real beanstalkd ---------------------------------------------------------------------------------
if ! have_beanstalkd; then
    if [ -n "${BEANSTALKD:-}" ]; then
        echo "install-deps: BEANSTALKD=$BEANSTALKD is not an executable file" >&2
        exit 2
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: installing beanstalkd from Debian packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        # The package's install script starts a system beanstalkd on 127.0.0.1:11300, the port `fakebean`
        # wants. Unless the machine already has a policy, forbid service starts for this install only.
        policy=/usr/sbin/policy-rc.d
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            trap 'rm -f "$policy"' EXIT
        fi
        apt-get install -y -q --no-install-recommends beanstalkd
    else
        cat >&2 <<'MSG'
install-deps: the real beanstalkd is not installed, and the tests run every behaviour test against it.
Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install beanstalkd      (1.12 is the reference version)
  macOS:          brew install beanstalkd
  elsewhere:      build it from https://github.com/beanstalkd/beanstalkd and set BEANSTALKD=/path/to/beanstalkd
To run only the fakebean half meanwhile:  python -m pytest -m "not real"
MSG
        exit 2
    fi
fi
real=${BEANSTALKD:-$(command -v beanstalkd || echo /usr/bin/beanstalkd)}
real_version=$("$real" -v 2>/dev/null || true)
if [ "$real_version" != "beanstalkd 1.12" ]; then
    echo "install-deps: warning: $real is '$real_version', the tests expect beanstalkd 1.12" >&2
fi

# --- the Node, PHP and Ruby clients of tests/polyglot -----------------------------------------------------
# Debian's php-cli + php-pda-pheanstalk and ruby + ruby-beaneater, and npm's jackd + fivebeans (pinned by
# tests/polyglot/node/package-lock.json, installed into tests/polyglot/node/node_modules). Without root and
# apt-get this only warns: the client tests then skip, which .ci/run counts as a failure.
polyglot_apt=()
php -r 'require "Pheanstalk/autoload.php";' >/dev/null 2>&1 || polyglot_apt+=(php-cli php-pda-pheanstalk)
ruby -e 'require "beaneater"' >/dev/null 2>&1 || polyglot_apt+=(ruby ruby-beaneater)
# Node.js is on the project's machines (with its own npm); Debian's only where there is no node at all,
# since Debian's npm conflicts with a NodeSource nodejs.
command -v node >/dev/null 2>&1 || polyglot_apt+=(nodejs npm)
if [ ${#polyglot_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: installing ${polyglot_apt[*]} from Debian packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${polyglot_apt[@]}"
    else
        echo "install-deps: warning: missing ${polyglot_apt[*]} (Debian packages): tests/polyglot will skip" >&2
    fi
fi

# --- Chromium, for the dashboard's browser tests (tests/fakebean/admin/test_admin_browser.py) -------------
# Debian's chromium, driven by Playwright's Python package (the test extra) through /usr/bin/chromium:
# Playwright's own browser downloads are never used. Without root and apt-get this only warns: the
# browser tests then skip, which .ci/run counts as a failure.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: installing chromium from Debian packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends chromium
    else
        echo "install-deps: warning: no chromium (Debian package): the dashboard's browser tests will skip" >&2
    fi
fi

node_dir=tests/polyglot/node
# node_modules/.lock-copy is the package-lock.json it was installed from: equal means it is up to date.
if command -v npm >/dev/null 2>&1 \
    && ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.lock-copy" 2>/dev/null; then
    echo "install-deps: npm ci in $node_dir (jackd, fivebeans)"
    if (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error); then
        cp "$node_dir/package-lock.json" "$node_dir/node_modules/.lock-copy"
    else
        echo "install-deps: warning: npm ci failed; the Node client tests will skip" >&2
    fi
fi

# --- the project and its test extras ----------------------------------------------------------------------
# Reinstall only when pyproject.toml or the interpreter changed: an editable install picks up new code
# by itself, and pip would otherwise rebuild the package on every run.
stamp=build/test-deps.stamp
want=$("$PYTHON" -c 'import hashlib, sys; data = open("pyproject.toml", "rb").read() + sys.executable.encode(); print(hashlib.sha256(data).hexdigest())')
if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && "$PYTHON" -c 'import fakebean.cli, pytest, hypothesis, playwright' 2>/dev/null; then
    exit 0
fi
echo "install-deps: pip install -e '.[test]'"
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q -e '.[test]'
mkdir -p build
echo "$want" >"$stamp"
