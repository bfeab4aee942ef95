"""The typed confirmation of a sync the prune guard stops (``engine.prune_guard``):
the plan and its blast radius, and an input where the operator types the app's
name. A stray ``y`` or enter confirms nothing; escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class TypedConfirmScreen(ModalScreen[bool]):
    """Asks the operator to type ``expected`` (the app's name); True once they
    submit exactly that, False on escape."""

    DEFAULT_CSS = """
    TypedConfirmScreen {
        align: center middle;
    }
    TypedConfirmScreen > Vertical {
        width: 90%;
        max-width: 110;
        height: 90%;
        border: thick $error;
        background: $panel;
        padding: 0 1;
    }
    TypedConfirmScreen #question {
        text-style: bold;
        width: 1fr;
    }
    TypedConfirmScreen #reason {
        color: $error;
        width: 1fr;
    }
    TypedConfirmScreen VerticalScroll {
        height: 1fr;
        background: $surface;
    }
    TypedConfirmScreen #mismatch {
        color: $error;
        height: auto;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, reason: str, body: str, *, expected: str) -> None:
        super().__init__()
        self.question = question
        self.reason = reason
        self.body = body
        self.expected = expected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            yield Label(self.reason, id="reason", markup=False)
            with VerticalScroll(id="plan"):
                yield Static(self.body, id="body", markup=False)
            yield Label(f"Type {self.expected} and press enter to sync; escape cancels.")
            yield Label("", id="mismatch", markup=False)
            yield Input(placeholder=self.expected, id="typed")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
            return
        # Nothing happens on a wrong name: the operator reads what to type again.
        self.query_one("#mismatch", Label).update(
            f"{event.value.strip()!r} is not {self.expected!r}: nothing synced"
        )

    def action_cancel(self) -> None:
        self.dismiss(False)
