"""The `gitwave` command line and the Textual app."""
