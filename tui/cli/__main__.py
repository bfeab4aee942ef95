"""``python -m gitwave.tui.cli``: the `gitwave` command."""

from gitwave.tui.cli import run

run()
