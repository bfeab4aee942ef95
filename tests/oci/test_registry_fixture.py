"""The test registry itself: what other OCI tests rely on (tests/oci_registry.py)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.oci_registry import OciRegistry, start_registry


def test_pushed_tags_are_listed_and_manifests_served(oci_registry: OciRegistry) -> None:
    digest = oci_registry.push_image("team/app", "1.0.0")
    oci_registry.push_image("team/app", "1.1.0")

    assert sorted(oci_registry.tags("team/app")) == ["1.0.0", "1.1.0"]
    request = urllib.request.Request(
        f"{oci_registry.url}/v2/team/app/manifests/1.0.0",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Docker-Content-Digest"] == digest
        assert json.loads(response.read())["schemaVersion"] == 2


def test_helm_pushes_a_chart(oci_registry: OciRegistry, tmp_path: Path) -> None:
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.3.1\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n"
    )
    subprocess.run(
        ["helm", "package", str(chart), "--destination", str(tmp_path)],
        check=True,
        capture_output=True,
    )

    ref = oci_registry.push_chart(tmp_path / "hello-0.3.1.tgz", "charts")

    assert ref == f"oci://{oci_registry.host}/charts/hello:0.3.1"
    assert oci_registry.tags("charts/hello") == ["0.3.1"]


def test_a_stopped_registry_refuses_connections(tmp_path: Path) -> None:
    with start_registry(tmp_path / "r") as registry:
        registry.push_image("a/b", "v1")
        registry.stop()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{registry.url}/v2/", timeout=5)
