"""``python -m fakebean``: the same as the ``fakebean`` command."""

import sys

from fakebean.cli import main

sys.exit(main())
