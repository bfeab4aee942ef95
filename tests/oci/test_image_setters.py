"""The Setters strategy on its own: which lines change and how (engine/images/setters.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.errors import PathEscapeError, ValidationError
from gitwave.engine.images.setters import LatestImage, update_text, yaml_files

LATEST = {"ns:app": LatestImage("reg.example.com/team/app", "1.10")}
M = '# {"$imagepolicy": "ns:app'


@dataclass(frozen=True)
class Case:
    reason: str
    given: str
    want: str


CASES = [
    Case(
        "whole image, plain",
        f'image: reg.example.com/team/app:1.0 {M}"}}\n',
        f'image: reg.example.com/team/app:1.10 {M}"}}\n',
    ),
    Case(
        "list item keeps the dash",
        f'- reg.example.com/team/app:1.0  {M}"}}\n',
        f'- reg.example.com/team/app:1.10  {M}"}}\n',
    ),
    Case(
        "double quotes kept",
        f'image: "x:1" {M}"}}\n',
        f'image: "reg.example.com/team/app:1.10" {M}"}}\n',
    ),
    Case("single quotes kept", f"tag: '1.0' {M}:tag\"}}\n", f"tag: '1.10' {M}:tag\"}}\n"),
    Case(
        "a plain tag YAML would read as a number is quoted",
        f'tag: 1.0 {M}:tag"}}\n',
        f'tag: "1.10" {M}:tag"}}\n',
    ),
    Case(
        "name only",
        f'repository: other/app {M}:name"}}\n',
        f'repository: reg.example.com/team/app {M}:name"}}\n',
    ),
    Case(
        "an unknown policy is left alone",
        'image: a:1 # {"$imagepolicy": "ns:other"}\n',
        'image: a:1 # {"$imagepolicy": "ns:other"}\n',
    ),
    Case(
        "a marker inside a block scalar is not a setter",
        f'script: |\n  docker pull x:1 {M}"}}\n',
        f'script: |\n  docker pull x:1 {M}"}}\n',
    ),
    Case(
        "digest setters need digest reflection (left alone)",
        f'd: sha256:ab {M}:digest"}}\n',
        f'd: sha256:ab {M}:digest"}}\n',
    ),
    Case(
        "CRLF line ends kept",
        f'image: a:1 {M}"}}\r\nother: 1\r\n',
        f'image: reg.example.com/team/app:1.10 {M}"}}\r\nother: 1\r\n',
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_setter_rewrites_only_the_marked_value(case: Case) -> None:
    new_text, changes = update_text(case.given, "f.yaml", LATEST)
    assert new_text == case.want
    assert bool(changes) == (case.given != case.want)


def test_change_names_file_line_and_object() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\n"
        f'spec:\n  containers:\n    - image: a:1 {M}"}}\n'
    )
    _, changes = update_text(text, "apps/pod.yaml", LATEST)
    (change,) = changes
    assert (change.file, change.line, change.setter) == ("apps/pod.yaml", 6, "ns:app")
    assert (change.object.kind, change.object.namespace, change.object.name) == ("Pod", "n", "p")
    assert (change.old_value, change.new_value) == ("a:1", "reg.example.com/team/app:1.10")


def test_a_file_that_is_not_yaml_is_named_with_its_line() -> None:
    with pytest.raises(ValidationError, match=r"f.yaml:2"):
        update_text(f'a: [1\nimage: a:1 {M}"}}\n', "f.yaml", LATEST)


def test_yaml_files_skip_symlinks_and_refuse_escapes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "a.yaml").write_text("a: 1\n")
    outside = tmp_path / "secret.yaml"
    outside.write_text("b: 2\n")
    (root / "apps" / "link.yaml").symlink_to(outside)
    (tmp_path / "outdir").mkdir()
    (root / "out").symlink_to(tmp_path / "outdir")

    assert [rel for _, rel in yaml_files(root, "apps")] == ["apps/a.yaml"]
    with pytest.raises(PathEscapeError):
        list(yaml_files(root, "../"))
    with pytest.raises(PathEscapeError):
        list(yaml_files(root, "out"))
