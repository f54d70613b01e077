"""``python -m tailor_local``: the same as the ``tailor`` command."""

import sys

from tailor_local.cli import main

sys.exit(main())
