"""``python -m fakebean.binlog [--json] DIR``: inspect a binlog directory (see ``inspector``)."""

import sys

from .inspector import main

sys.exit(main())
