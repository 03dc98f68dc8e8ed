"""``python -m workloads.feed``: see :mod:`workloads.feed.cli`."""

import sys

from workloads.feed.cli import main

sys.exit(main())
