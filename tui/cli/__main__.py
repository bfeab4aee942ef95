"""``python -m gitwave.tui.cli``: the `gitwave` command."""

import sys

from gitwave.tui.cli import main

sys.exit(main())
