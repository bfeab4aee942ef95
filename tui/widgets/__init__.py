"""Widgets of the terminal UI. Each owns its DEFAULT_CSS, bindings and Messages."""
