"""The distribution API client (engine/images/registry.py) against the real registry."""

from __future__ import annotations

import pytest

from gitwave.engine.images.registry import ImageName, RegistryError, list_tags
from tests.oci_registry import OciRegistry


def test_tags_are_collected_across_pages(oci_registry: OciRegistry) -> None:
    tags = [f"1.{i}.0" for i in range(7)]
    for tag in tags:
        oci_registry.push_image("team/paged", tag)
    image = ImageName.parse(f"{oci_registry.host}/team/paged", "ImageRepository/ns/paged")

    # Pages of two: the registry answers a Link header until the last page.
    found = list_tags(image, subject="ImageRepository/ns/paged", insecure=True, page_size=2)

    assert sorted(found) == sorted(tags)
    assert len(found) == len(set(found))


def test_an_unknown_repository_is_named_with_its_url(oci_registry: OciRegistry) -> None:
    image = ImageName.parse(f"{oci_registry.host}/team/nothing", "ImageRepository/ns/none")
    with pytest.raises(RegistryError) as caught:
        list_tags(image, subject="ImageRepository/ns/none", insecure=True)
    assert str(caught.value) == (
        f"ImageRepository/ns/none: http://{oci_registry.host}/v2/team/nothing/tags/list?n=1000 "
        "answered 404: no such repository on the registry"
    )


@pytest.mark.parametrize(
    ("text", "host", "path"),
    [
        ("nginx", "docker.io", "library/nginx"),
        ("bitnami/redis", "docker.io", "bitnami/redis"),
        ("ghcr.io/org/app", "ghcr.io", "org/app"),
        ("localhost/app", "localhost", "app"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
    ],
)
def test_image_names_are_read_as_docker_reads_them(text: str, host: str, path: str) -> None:
    assert ImageName.parse(text, "s") == ImageName(host, path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("--upload-pack=x/app", "is not an image name"),
        ("ghcr.io/org/app:1.0", "must not carry a tag"),
        ("ghcr.io/Org/App", "is not a repository path"),
    ],
)
def test_bad_image_names_are_refused(text: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem):
        ImageName.parse(text, "ImageRepository/ns/x")
