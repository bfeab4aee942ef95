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


def test_bearer_token_flow_with_credentials(oci_registry: OciRegistry, tmp_path) -> None:
    from gitwave.engine.images.registry import Credentials
    from tests.oci_registry import TokenService, start_registry

    for tag in ("1.0.0", "1.1.0"):
        oci_registry.push_image("team/private", tag)
    subject = "ImageRepository/ns/private"
    with (
        TokenService(users={"robot": "s3cret"}) as tokens,
        start_registry(
            tmp_path / "authed", storage=oci_registry.root / "storage", token=tokens
        ) as authed,
    ):
        image = ImageName.parse(f"{authed.host}/team/private", subject)

        found = list_tags(
            image, subject=subject, insecure=True, credentials=Credentials("robot", "s3cret")
        )

        assert sorted(found) == ["1.0.0", "1.1.0"]
        assert tokens.requests == [("robot", TokenService.service, "repository:team/private:pull")]

        with pytest.raises(RegistryError) as caught:
            list_tags(image, subject=subject, insecure=True)
        assert str(caught.value) == (
            f"{subject}: the token service {tokens.realm} refused access (401); "
            "check spec.secretRef"
        )
        with pytest.raises(RegistryError) as caught:
            list_tags(
                image, subject=subject, insecure=True, credentials=Credentials("robot", "wrong")
            )
        assert "refused access (401)" in str(caught.value)
        assert "wrong" not in str(caught.value) and "s3cret" not in str(caught.value)


def test_secret_ref_docker_config_reaches_the_token_service(
    oci_registry: OciRegistry, tmp_path
) -> None:
    import base64
    import json

    from gitwave.engine.images import load_image_objects, scan, secret_credentials
    from tests.oci_registry import TokenService, start_registry

    oci_registry.push_image("team/private", "2.0.0")
    with (
        TokenService(users={"robot": "s3cret"}) as tokens,
        start_registry(tmp_path / "a", storage=oci_registry.root / "storage", token=tokens) as reg,
    ):
        (tmp_path / "objects").mkdir()
        (tmp_path / "objects" / "repo.yaml").write_text(
            "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\n"
            "metadata: {name: private, namespace: apps}\n"
            f"spec: {{image: {reg.host}/team/private, interval: 5m, insecure: true,"
            " secretRef: {name: regcred}}\n"
        )
        auth = base64.b64encode(b"robot:s3cret").decode()
        config = json.dumps({"auths": {reg.host: {"auth": auth}}})
        secrets = {("apps", "regcred"): {".dockerconfigjson": config}}
        objects = load_image_objects(tmp_path / "objects")

        report = scan(objects, credentials=secret_credentials(lambda ns, n: secrets.get((ns, n))))
        missing = scan(objects, credentials=secret_credentials(lambda ns, n: None))

    assert report.repositories[0].tags == ("2.0.0",), report.repositories[0].error
    assert tokens.requests[0][0] == "robot"
    assert missing.repositories[0].error == (
        "ImageRepository/apps/private: spec.secretRef: Secret/apps/regcred not found"
    )


def test_the_image_name_is_written_back_as_given() -> None:
    assert ImageName.parse("nginx", "s").canonical == "nginx"
    assert ImageName.parse("ghcr.io/org/app", "s").canonical == "ghcr.io/org/app"
