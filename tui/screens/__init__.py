"""Screens of the terminal UI: Applications, Application, Diff, History, Events, modals."""
