#!/usr/bin/env bash
# Run fakebean's behaviour tests against another beanstalkd-compatible server and say which behaviours differ.
#
#   ./scripts/conformance.sh --server-cmd /path/to/server [pytest arguments...]
#
# The server must take beanstalkd's options: `-l 127.0.0.1 -p PORT` (and `-z BYTES` for the job-size
# tests, `-l unix:PATH` for the Unix-socket ones), and the process started must itself listen (a wrapper
# script should `exec` the server). Every test starts its own fresh server, so counters and job ids
# start from zero. The summary at the end lists, per test module, the behaviours that differ; each
# failing test's output shows the bytes expected (beanstalkd 1.12's) and the bytes received.
# Extra arguments go to pytest, e.g. `-n 2` (pytest-xdist) or `-k reserve`.
# Exit status: 0 when every behaviour agrees, 1 when some differ, 2 or more on a usage error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-$(command -v python3 || command -v python)}

server=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --server-cmd) server=${2:?--server-cmd needs a path}; shift 2 ;;
        --server-cmd=*) server=${1#--server-cmd=}; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ -z "$server" ]; then
    echo "usage: $0 --server-cmd /path/to/server [pytest arguments...]" >&2
    exit 2
fi
exec "$PYTHON" -m pytest -p no:cacheprovider -q --no-header -o addopts="--strict-markers" \
    --tb=short -rN --conformance-cmd="$server" "${args[@]}"
