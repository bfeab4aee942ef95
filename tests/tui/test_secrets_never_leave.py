"""Secrets never leave (issue 14 item 7): every flow of issue 14's secrets part
(Sealed Secrets sealed and unsealed by the sandbox, SOPS with age and with AWS
KMS, keys from Flux's ``decryption.secretRef``) runs once, and every channel
is searched for each secret value used: stdout and stderr of the commands
(tables, ``-o json``, ``-o yaml``), ``history -o json``, ``events``, the TUI's
panes (text and SVG screenshots), log records, and the raw bytes of every
file in the state directory. Values are searched as written and base64-encoded.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gitwave.engine.model import ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from gitwave.providers.sealed_secrets import KeyPair
from gitwave.tui.app import GitwaveApp
from gitwave.tui.controller import Controller
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.widgets.status import UNICODE
from tests.engine.test_sops import make_key
from tests.engine.test_sops_target_keys import (
    Kms,
    clean_env,  # noqa: F401  (a fixture)
    flux_repo,
    kms,  # noqa: F401  (a fixture)
    put_key_secret,
    sops_encrypt,
)
from tests.sealedsecrets.helpers import PASSWORD, TOKEN, run, secret_doc
from tests.tui.test_app_support import SIZE, screen_text, until

# Seconds: moto, sops and the TUI's screenshots (`make test` runs it, test-fast does not).
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

AGE_VALUE = "mask-age-Tq83-distinct"
AGE_SECOND = "mask-age-second-Pf20-distinct"
KMS_VALUE = "mask-kms-Xc66-distinct"
AWS_SECRET = "mask-aws-secret-Ud47-distinct"


def encoded(values: list[str]) -> list[str]:
    return [*values, *(base64.b64encode(v.encode()).decode() for v in values)]


def manifest_doc(name: str, value: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"},
            "stringData": {"password": value},
        }
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


async def test_no_secret_value_reaches_any_channel(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    clean_env: Path,  # noqa: F811
    kms: Kms,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    state = clean_env
    monkeypatch.setenv("AWS_ENDPOINT_URL", kms.endpoint)
    age = make_key(tmp_path, "owner")
    identity = age.key_file.read_text().strip()
    root = flux_repo(tmp_path / "repo", AGE_VALUE, secret_ref="sops-keys")
    manifests = root / "manifests"
    # SOPS with age (the Flux layout's secret.yaml) and with KMS.
    sops_encrypt(manifests / "secret.yaml", "--age", age.recipient, env={})
    (manifests / "kms-secret.yaml").write_text(manifest_doc("kms-db", KMS_VALUE))
    sops_encrypt(
        manifests / "kms-secret.yaml",
        "--kms",
        kms.key_arn,
        env={"AWS_ACCESS_KEY_ID": "owner", "AWS_SECRET_ACCESS_KEY": "owner-secret"},
    )
    # A SealedSecret from `gitwave seal`.
    (tmp_path / "plain-secret.yaml").write_text(yaml.safe_dump(secret_doc(name="sealed-db")))
    code, sealed, err = run(capsys, "seal", "-f", str(tmp_path / "plain-secret.yaml"), "-o", "yaml")
    assert code == 0, err
    (manifests / "sealed.yaml").write_text(sealed)
    put_key_secret(
        state,
        "sops-keys",
        {
            "age.agekey": age.key_file.read_bytes(),
            "sops.aws-kms": yaml.safe_dump(
                {"aws_access_key_id": "from-secret", "aws_secret_access_key": AWS_SECRET}
            ).encode(),
        },
    )
    clusters = str(root / "clusters")
    printed: list[str] = [sealed, err]

    def cli(*argv: str, want: int | None = 0) -> None:
        code, out, err = run(capsys, *argv)
        if want is not None:
            assert code == want, err
        printed.extend((out, err))

    cli("sync", clusters)
    for fmt in ("json", "yaml"):
        cli("sync", clusters, "-o", fmt)
    with SandboxProvider(state) as sandbox:
        for name in ("db", "kms-db", "sealed-db"):
            assert sandbox.observe(ResourceKey("", "Secret", "shop", name)) is not None
    # A pending change to a SOPS value, so plans and diffs have a Secret to show.
    (manifests / "secret.yaml").write_text(manifest_doc("db", AGE_SECOND))
    sops_encrypt(manifests / "secret.yaml", "--age", age.recipient, env={})
    for fmt in ("table", "json", "yaml"):
        cli("plan", clusters, "-o", fmt, want=1)
        cli("status", clusters, "-o", fmt, want=None)
    cli("render", clusters)
    for fmt in ("table", "json", "yaml"):
        cli("history", "app", "-o", fmt)
        cli("events", "app", "-o", fmt)
        cli("sandbox", "get", "secret", "-n", "shop", "-o", fmt)
        cli("sandbox", "get", "sealedsecret", "-n", "shop", "-o", fmt)

    # The TUI's panes: the app's tree, the app diff, history, events.
    sandbox = SandboxProvider(state, rollout_seconds=0.05)
    store = Store(state / "gitwave.db")
    controller = Controller(
        clusters, targets=ProviderRouter([sandbox]), store=store, state_dir=state
    )
    shown: list[str] = []
    try:
        app = GitwaveApp(controller, open_app="app", refresh_seconds=0, glyphs=UNICODE)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
            await until(pilot, lambda: "Secret" in screen_text(app))
            shown += [screen_text(app), app.export_screenshot()]
            for key, screen in (("D", DiffScreen), ("h", HistoryScreen), ("e", EventsScreen)):
                await pilot.press(key)
                await until(pilot, lambda screen=screen: isinstance(app.screen, screen))
                await pilot.pause(0.5)
                shown += [screen_text(app), app.export_screenshot()]
                if isinstance(app.screen, DiffScreen):
                    await until(pilot, lambda: app.screen.loads > 0)  # type: ignore[attr-defined]
                    shown.append(app.screen.text)  # type: ignore[attr-defined]
                await pilot.press("escape")
                await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
    finally:
        store.close()
        sandbox.close()

    values = encoded([PASSWORD, TOKEN, AGE_VALUE, AGE_SECOND, KMS_VALUE, AWS_SECRET, identity])
    channels = {
        "stdout/stderr": "\n".join(printed),
        "TUI": "\n".join(shown),
        "logs": "\n".join(r.getMessage() for r in logs.records) + logs.text,
    }
    for channel, text in channels.items():
        for value in values:
            assert value not in text, f"{value!r} leaked into {channel}"
    assert "***" in channels["stdout/stderr"]  # masked values are shown as such
    assert "***" in channels["TUI"]  # the app diff shows the pending Secret change, masked
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "gitwave.db" for p in files)
    keys = KeyPair.in_dir(state)
    for path in files:
        data = path.read_bytes()
        for value in values:
            assert value.encode() not in data, f"{value!r} leaked into {path}"
    assert keys.key_path.is_file()  # the sealing key is there, and only there
