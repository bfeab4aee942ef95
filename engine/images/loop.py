"""Image update automations on their ``spec.interval``, for ``gitwave run``.

``ImageAutomationLoop.step(now)`` reads the objects under the directory again
(Git may have changed them), and runs each automation that is due: a scan of
the registries, then ``run_automation``. Each automation is next due
``spec.interval`` after it ran, whatever the outcome (Flux requeues a failed
one the same way). The clock is passed in, so a test steps it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gitwave.engine.errors import GitwaveError
from gitwave.engine.images.automation import (
    AutomationResult,
    CredentialsFor,
    run_automation,
    scan,
)
from gitwave.engine.images.objects import ImageObjects, Ref, load_image_objects

# How often the loop looks whether an automation is due (its intervals are minutes).
POLL_S = 1.0


@dataclass
class ImageAutomationLoop:
    """Runs the ImageUpdateAutomations under ``directory``; results go to ``report``."""

    directory: Path
    report: Callable[[AutomationResult], None]
    on_error: Callable[[str], None]
    credentials: CredentialsFor | None = None
    allowed_local_repos: Iterable[Path] = ()
    clock: Callable[[], float] = time.monotonic
    _due: dict[Ref, float] = field(default_factory=dict)
    _load_error: str = ""

    def objects(self) -> ImageObjects | None:
        """The objects now; None (reported once per distinct error) when they cannot be read."""
        try:
            objects = load_image_objects(self.directory)
        except GitwaveError as exc:
            if exc.message != self._load_error:
                self.on_error(exc.message)
            self._load_error = exc.message
            return None
        self._load_error = ""
        return objects

    def step(self, now: float) -> list[AutomationResult]:
        """Run every automation due at ``now``; the results, in name order."""
        objects = self.objects()
        if objects is None:
            return []
        due = [
            a
            for a in objects.automations
            if not a.suspend and self._due.get(a.ref, float("-inf")) <= now
        ]
        if not due:
            return []
        report = scan(objects, credentials=self.credentials)
        for choice in report.policies:
            if choice.error:
                self.on_error(choice.error)
        results = []
        for automation in due:
            result = run_automation(
                automation,
                objects,
                report,
                allowed_local_repos=tuple(self.allowed_local_repos),
            )
            self._due[automation.ref] = now + automation.interval_s
            self.report(result)
            results.append(result)
        return results

    def run(self, stop: threading.Event, *, poll_s: float = POLL_S) -> None:
        """Step until ``stop`` is set."""
        while not stop.is_set():
            self.step(self.clock())
            stop.wait(poll_s)
