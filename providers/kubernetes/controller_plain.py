"""The controller's Leases (and its Events, in controller_api) as plain JSON.

A replica renews its membership Lease and every shard Lease it holds every
``renew_s`` (64 shards: about 30 writes a second); through the official
client each answer became a model (a ``Configuration`` built per model,
dateutil for each timestamp), which cost a replica more CPU than its syncs
(issue 16). Here they go through ``Transport`` as JSON, read as dicts.
Writes carry the Lease's resourceVersion, so of two replicas racing for one
Lease the loser gets HTTP 409.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from gitwave.engine.api import MEMBER_PREFIX, SHARD_PREFIX, LeaseRecord

from .transport import HttpError, Transport

_LEASE_TYPE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}


def _micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, in UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    """A Lease's renewTime as written by any client (``Z`` or an offset, with or
    without fractions), as an aware datetime in UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


class PlainJson:
    """Mixed into KubeControllerApi: Leases in ``_namespace``, over ``_http``."""

    api_client: Any
    _namespace: str
    _plain_lock: threading.Lock
    _plain: Transport | None

    def _http(self) -> Transport:
        """Leases and Events go as plain JSON: a replica renews every shard's Lease
        every few seconds, and building the client's models for each (a
        Configuration per model, dateutil for each timestamp) cost more CPU than
        the syncs."""
        with self._plain_lock:
            if self._plain is None:
                self._plain = Transport(self.api_client, target="gitwave-controller")
            return self._plain

    def _lease_path(self, name: str = "") -> str:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{self._namespace}/leases"
        return f"{path}/{name}" if name else path

    def list_leases(self) -> list[LeaseRecord]:
        _, listed = self._http().request("GET", self._lease_path())
        records: list[LeaseRecord] = []
        for lease in (listed or {}).get("items") or []:
            meta = lease.get("metadata") or {}
            name = str(meta.get("name", ""))
            if not (name.startswith(MEMBER_PREFIX) or name.startswith(SHARD_PREFIX)):
                continue
            spec = lease.get("spec") or {}
            renewed = spec.get("renewTime")
            records.append(
                LeaseRecord(
                    name=name,
                    holder=spec.get("holderIdentity") or None,
                    renewed=_parse_time(renewed) if renewed else None,
                    duration_s=int(spec.get("leaseDurationSeconds") or 0),
                    resource_version=str(meta.get("resourceVersion") or ""),
                )
            )
        return records

    def put_lease(
        self,
        name: str,
        *,
        holder: str,
        now: datetime,
        duration_s: int,
        previous: LeaseRecord | None,
    ) -> bool:
        spec: dict[str, Any] = {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration_s,
            "renewTime": _micro_time(now),
        }
        metadata: dict[str, Any] = {"name": name}
        if previous is None or previous.holder != holder:
            spec["acquireTime"] = _micro_time(now)
        if previous is not None:
            metadata["resourceVersion"] = previous.resource_version
        body = {**_LEASE_TYPE, "metadata": metadata, "spec": spec}
        try:
            if previous is None:
                self._http().request("POST", self._lease_path(), body=body)
            else:
                self._http().request("PUT", self._lease_path(name), body=body)
        except HttpError as error:
            if error.status in (409, 404):  # someone else wrote it first
                return False
            raise
        return True

    def release_lease(self, lease: LeaseRecord) -> None:
        body = {
            **_LEASE_TYPE,
            "metadata": {"name": lease.name, "resourceVersion": lease.resource_version},
            "spec": {"leaseDurationSeconds": lease.duration_s},
        }
        try:
            self._http().request("PUT", self._lease_path(lease.name), body=body)
        except HttpError as error:
            if error.status not in (404, 409):
                raise


__all__ = ["PlainJson"]
