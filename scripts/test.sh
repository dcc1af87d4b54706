#!/usr/bin/env bash
# Run the whole test suite, on fakebean and on the real beanstalkd, after installing what it needs.
# Extra arguments go to pytest:  ./scripts/test.sh -m fake -x -k drain
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHON=${PYTHON:-$(command -v python3 || command -v python || true)}
scripts/install-deps.sh
exec "$PYTHON" -m pytest "$@"
