"""Secret masking helpers: what every printer and store uses on a Secret."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.mask import (
    MASK,
    is_secret_key,
    is_secret_manifest,
    is_secret_path,
    mask_change,
    mask_secret_manifest,
    redact,
    secret_values,
)
from gitwave.engine.model import FieldChange, FieldOp, ResourceKey

TOKEN = "ghp_exampletoken1234567890"
PASSWORD = "s3cr3t-p4ss"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "api",
        "namespace": "shop",
        "labels": {"app": "api"},
        "annotations": {LAST_APPLIED: f'{{"stringData":{{"token":"{TOKEN}"}}}}', "team": "a"},
    },
    "type": "Opaque",
    "data": {"password": b64(PASSWORD)},
    "stringData": {"token": TOKEN},
}


def test_mask_secret_manifest_hides_every_value_and_keeps_the_shape() -> None:
    before = copy.deepcopy(SECRET)

    masked = mask_secret_manifest(SECRET)

    assert masked == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "api",
            "namespace": "shop",
            "labels": {"app": "api"},
            "annotations": {LAST_APPLIED: MASK, "team": "a"},
        },
        "type": "Opaque",
        "data": {"password": MASK},
        "stringData": {"token": MASK},
    }
    assert before == SECRET, "the input must not change"
    masked["metadata"]["labels"]["app"] = "changed"
    assert SECRET["metadata"]["labels"]["app"] == "api", "the copy must not share maps"


def test_mask_secret_manifest_masks_a_malformed_data_field_whole() -> None:
    assert mask_secret_manifest({"kind": "Secret", "data": PASSWORD})["data"] == MASK


@dataclass
class RedactCase:
    reason: str
    text: str
    secrets: list[str]
    want: str


REDACT_CASES = [
    RedactCase(
        "every occurrence",
        f"login {PASSWORD} failed; retry {PASSWORD}",
        [PASSWORD],
        "login *** failed; retry ***",
    ),
    RedactCase(
        "the longer secret first, so no part of it stays",
        "value abcdef",
        ["abc", "abcdef"],
        "value ***",
    ),
    RedactCase("empty secrets are skipped", "nothing here", ["", "zzz"], "nothing here"),
    RedactCase("even one character", "a-b", ["b"], "a-***"),
]


@pytest.mark.parametrize("case", REDACT_CASES, ids=lambda c: c.reason)
def test_redact(case: RedactCase) -> None:
    assert redact(case.text, case.secrets) == case.want


def test_secret_values_cover_encoded_and_decoded_forms() -> None:
    values = secret_values(SECRET)

    assert set(values) == {b64(PASSWORD), PASSWORD, TOKEN, b64(TOKEN)}
    message = f"apply failed: data.password={b64(PASSWORD)} ({PASSWORD}), token {b64(TOKEN)}"
    assert redact(message, values) == "apply failed: data.password=*** (***), token ***"


@dataclass
class PathCase:
    path: str
    want: bool


PATH_CASES = [
    PathCase("data", True),
    PathCase("data.password", True),
    PathCase('data["tls.key"]', True),
    PathCase("stringData.token", True),
    PathCase(f'metadata.annotations["{LAST_APPLIED}"]', True),
    PathCase("database.host", False),
    PathCase("metadata.labels.app", False),
    PathCase("type", False),
]


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: c.path)
def test_is_secret_path(case: PathCase) -> None:
    assert is_secret_path(case.path) is case.want


@dataclass
class ChangeCase:
    reason: str
    given: FieldChange
    is_secret: bool
    want: FieldChange


CHANGE_CASES = [
    ChangeCase(
        "a Secret's data value",
        FieldChange("data.password", FieldOp.REPLACE, b64("old"), b64(PASSWORD)),
        True,
        FieldChange("data.password", FieldOp.REPLACE, MASK, MASK),
    ),
    ChangeCase(
        "an added value keeps its unset side",
        FieldChange('stringData["tls.key"]', FieldOp.ADD, None, PASSWORD),
        True,
        FieldChange('stringData["tls.key"]', FieldOp.ADD, None, MASK),
    ),
    ChangeCase(
        "a removed value keeps its unset side",
        FieldChange("data.token", FieldOp.REMOVE, TOKEN, None),
        True,
        FieldChange("data.token", FieldOp.REMOVE, MASK, None),
    ),
    ChangeCase(
        "all annotations at once may hold the last-applied copy",
        FieldChange("metadata.annotations", FieldOp.REMOVE, {LAST_APPLIED: PASSWORD}, None),
        True,
        FieldChange("metadata.annotations", FieldOp.REMOVE, MASK, None),
    ),
    ChangeCase(
        "another field of a Secret shows",
        FieldChange("type", FieldOp.REPLACE, "Opaque", "kubernetes.io/tls"),
        True,
        FieldChange("type", FieldOp.REPLACE, "Opaque", "kubernetes.io/tls"),
    ),
    ChangeCase(
        "data of something that is no Secret shows",
        FieldChange("data.mode", FieldOp.REPLACE, "dev", "prod"),
        False,
        FieldChange("data.mode", FieldOp.REPLACE, "dev", "prod"),
    ),
]


@pytest.mark.parametrize("case", CHANGE_CASES, ids=lambda c: c.reason)
def test_mask_change(case: ChangeCase) -> None:
    assert mask_change(case.given, is_secret=case.is_secret) == case.want


def test_is_secret_key_and_manifest_only_match_core_secrets() -> None:
    assert is_secret_key(ResourceKey("", "Secret", "shop", "api"))
    assert not is_secret_key(ResourceKey("bitnami.com", "Secret", "shop", "api"))
    assert not is_secret_key(ResourceKey("", "ConfigMap", "shop", "api"))
    assert is_secret_manifest(SECRET)
    assert not is_secret_manifest({"apiVersion": "bitnami.com/v1alpha1", "kind": "Secret"})
