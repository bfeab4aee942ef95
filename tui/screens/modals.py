"""Modal dialogs: the sync options, and the confirmation that shows a plan first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from gitwave.tui.controller import SyncRequest
from gitwave.tui.widgets.option_box import OptionBox


class ConfirmScreen(ModalScreen[bool]):
    """Shows what an operation will do (its plan) and asks Yes or No.

    ``y`` says yes, ``n`` or escape says no; enter presses the focused button,
    which is No until you move to Yes, so a stray enter changes nothing; with
    ``enter_says_yes`` (a small reversible change such as pausing auto-sync)
    Yes has the focus. ``compact`` sizes the dialog to a short body.
    """

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 90%;
        max-width: 110;
        height: 90%;
        border: thick $warning;
        background: $panel;
        padding: 0 1;
    }
    ConfirmScreen.compact > Vertical {
        height: auto;
    }
    ConfirmScreen.compact VerticalScroll {
        height: auto;
        max-height: 12;
    }
    ConfirmScreen #question {
        text-style: bold;
        width: 1fr;
    }
    ConfirmScreen VerticalScroll {
        height: 1fr;
        background: $surface;
    }
    ConfirmScreen Horizontal {
        height: 3;
        align-horizontal: right;
    }
    ConfirmScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
        Binding("j,down", "scroll(1)", "scroll", show=False),
        Binding("k,up", "scroll(-1)", "scroll", show=False),
    ]

    def __init__(
        self,
        question: str,
        body: str,
        *,
        summary: str = "",
        yes: str = "Yes",
        enter_says_yes: bool = False,
        compact: bool = False,
    ) -> None:
        super().__init__(classes="compact" if compact else "")
        self.enter_says_yes = enter_says_yes
        self.question = question
        self.body = body
        self.summary = summary
        self.yes_label = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.summary:
                yield Label(self.summary, id="summary-line")
            with VerticalScroll(id="plan"):
                yield Static(self.body, id="body", markup=False)
            with Horizontal():
                yield Button(f"{self.yes_label} (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.enter_says_yes else "#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_scroll(self, lines: int) -> None:
        scroller = self.query_one("#plan", VerticalScroll)
        scroller.scroll_relative(y=lines, animate=False)


class SyncOptionsScreen(ModalScreen[SyncRequest | None]):
    """Choose prune, dry run and force, then sync (enter) or cancel (escape)."""

    DEFAULT_CSS = """
    SyncOptionsScreen {
        align: center middle;
    }
    SyncOptionsScreen > Vertical {
        width: 64;
        height: auto;
        border: thick $primary;
        background: $panel;
        padding: 0 1;
    }
    SyncOptionsScreen #title {
        text-style: bold;
        margin-bottom: 1;
    }
    SyncOptionsScreen Checkbox, SyncOptionsScreen Checkbox:focus {
        border: none;
        padding: 0;
    }
    SyncOptionsScreen .hint {
        color: $text-muted;
        margin: 0 0 0 4;
    }
    SyncOptionsScreen Horizontal {
        height: 3;
        align-horizontal: right;
        margin-top: 1;
    }
    SyncOptionsScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("enter", "start", "sync", priority=True),
        Binding("escape", "cancel", "cancel"),
        Binding("p", "flip('prune')", "prune"),
        Binding("d", "flip('dry_run')", "dry run"),
        Binding("f", "flip('force')", "force"),
    ]

    def __init__(self, app_name: str, *, prune: bool) -> None:
        super().__init__()
        self.app_name = app_name
        self.default_prune = prune

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Sync {self.app_name}", id="title")
            yield OptionBox("Prune (p)", self.default_prune, id="prune")
            yield Label("delete objects of this app that are no longer in Git", classes="hint")
            yield OptionBox("Dry run (d)", False, id="dry_run")
            yield Label("validate against the target and report; change nothing", classes="hint")
            yield OptionBox("Force (f)", False, id="force")
            yield Label("re-apply every object, the ones in sync too", classes="hint")
            with Horizontal():
                yield Button("Sync (enter)", id="start", variant="warning")
                yield Button("Cancel (esc)", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#prune", Checkbox).focus()

    def request(self) -> SyncRequest:
        return SyncRequest(
            prune=self.query_one("#prune", Checkbox).value,
            dry_run=self.query_one("#dry_run", Checkbox).value,
            force=self.query_one("#force", Checkbox).value,
        )

    def action_flip(self, name: str) -> None:
        box = self.query_one(f"#{name}", Checkbox)
        box.value = not box.value

    def action_start(self) -> None:
        if self.focused is not None and self.focused.id == "cancel":
            self.dismiss(None)
            return
        self.dismiss(self.request())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.dismiss(self.request())
        else:
            self.dismiss(None)
