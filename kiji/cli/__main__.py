"""``python -m kiji.cli``: the same as the ``kiji`` script."""

import sys

from kiji.cli.app import main

sys.exit(main())
