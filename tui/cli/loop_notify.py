"""`gitwave run`'s notifications: the Flux Provider and Alert objects found in
the synced directory, fed by the loop's events and passes (engine.notify).

Only names are printed, never an address or token: those may come from a
Secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gitwave.engine.notify import Notifier
from gitwave.engine.notify_load import load_notifications
from gitwave.engine.notify_send import Sender


def start_notifications(path: str, *, say: Callable[..., None]) -> tuple[Notifier, Sender] | None:
    """A Notifier and its running Sender for the Alerts (and Argo CD
    notification subscriptions) under ``path`` (a local checkout), or None
    when there are none. A bad Provider or Alert raises
    (the command refuses to start, naming file:line and the object)."""
    root = Path(path)
    if not root.is_dir():
        return None
    config = load_notifications(root)
    alerts = [a for a in config.alerts if not a.suspended]
    if not alerts and not config.argo:
        return None

    def log(level: str, message: str) -> None:
        say(message, level=level)

    sender = Sender(log=log)
    notifier = Notifier(config, submit=sender.submit)
    for alert in alerts:
        provider = config.provider(alert)
        kind = provider.type if provider is not None else "?"
        where = f"Alert/{alert.namespace}/{alert.name}"
        say(f"notifications: {where} → Provider/{alert.provider} ({kind})")
    for route in config.argo:
        say(f"notifications: {route.trigger} → {route.template} → webhook {route.service}")
    return notifier, sender


def ticking(
    notifier: Notifier, then: Callable[[float, int], None] | None
) -> Callable[[float, int], None]:
    """The loop's ``on_pass``: ``then`` (metrics) as before, and the
    notifier's look at the apps' states at the wall clock."""

    def on_pass(seconds: float, apps: int) -> None:
        if then is not None:
            then(seconds, apps)
        notifier.tick(time.time())

    return on_pass
