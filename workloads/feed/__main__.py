"""``python -m workloads.feed``: see :mod:`workloads.feed.cli`."""

import sys

from workloads.common import logs
from workloads.feed.cli import main

logs.configure("workloads.feed")  # JSON lines; cli.main's basicConfig then finds a handler and adds none
sys.exit(main())
