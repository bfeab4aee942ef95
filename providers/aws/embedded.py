"""The embedded AWS emulator: moto in server mode, inside the gitwave process.

The sandbox target uses it when no ProviderConfig is given, so AWS kinds in a
repository sync without an AWS account. It listens on 127.0.0.1 at a free
port, accepts the fake credentials it hands out, and every description of it
says "AWS: embedded emulator".

**Lifetime.** moto keeps its state in memory, in this process. The sandbox's
Kubernetes-side state is a SQLite file that outlives the process, so without
more a later ``gitwave plan`` would find the AWS objects gone. With a
``state_dir`` the emulator therefore snapshots the state of the services
gitwave uses (RDS, EC2, SQS, S3, Route 53, CloudWatch, and KMS for sops) into
``state_dir/aws-emulator.pickle`` after every write (pass ``save`` as the
provider's ``on_write``) and when closed, and restores it when it starts.

Limits, on purpose: the snapshot is a pickle of moto's in-memory backends, so
it is only read back by the same moto version (another version starts empty
and says so in ``description``), and, like any pickle, it must only come from
a state directory the user owns. moto's backends are global to the process,
so there is one emulator with state per process; restoring refuses to
overwrite a moto that already holds resources.
"""

from __future__ import annotations

import copyreg
import io
import logging
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from gitwave.engine.api import private_directory
from gitwave.engine.errors import ProviderError

from .config import AwsConfig, AwsCredentials
from .tracked_apps import SNAPSHOT_FILE

SNAPSHOT_FORMAT = 1
DEFAULT_REGION = "us-east-1"
# The services behind the kinds gitwave manages.
# KMS too: keys made with `gitwave sandbox kms create-key` for sops must outlive the command.
SERVICES = ("rds", "ec2", "sqs", "s3", "route53", "cloudwatch", "kms")
FAKE_CREDENTIALS = AwsCredentials(access_key_id="gitwave", secret_access_key="gitwave-emulator")

_SAVE_LOCK = threading.Lock()
_SAVE_ATTEMPTS = 5


class _Snapshotter(pickle.Pickler):
    """A pickler that stores locks as fresh locks (moto's SQS backend holds one)."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    dispatch_table[type(threading.RLock())] = lambda _: (threading.RLock, ())

    def reducer_override(self, obj: Any) -> Any:
        # moto's KMS keys hold cryptography private keys, which do not pickle: store PEM.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return (_private_key_from_pem, (pem,))
        return NotImplemented


def _private_key_from_pem(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


def _moto() -> Any:
    try:
        import moto
        import moto.server  # the server module, for ThreadedMotoServer
    except ImportError:
        raise ProviderError(
            None,
            "the embedded AWS emulator needs moto in server mode: pip install 'moto[server]'",
        ) from None
    return moto


class EmbeddedAws:
    """A running emulator. Use as a context manager, or call ``close``."""

    def __init__(
        self, *, server: Any, endpoint_url: str, region: str, state_file: Path | None
    ) -> None:
        self._server = server
        self.endpoint_url = endpoint_url
        self.region = region
        self.state_file = state_file
        self.restore_problem = ""
        self._closed = False

    def __enter__(self) -> EmbeddedAws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddedAws({self.endpoint_url!r}, region={self.region!r})"

    @property
    def description(self) -> str:
        """``AWS: embedded emulator (…)``: what the CLI prints for this target."""
        if self.state_file is None:
            kept = "in memory only: its state ends with this process"
        else:
            kept = f"state kept in {self.state_file}"
        if self.restore_problem:
            kept += f"; previous state not restored: {self.restore_problem}"
        return f"AWS: embedded emulator (moto at {self.endpoint_url}, {self.region}, {kept})"

    def config(self) -> AwsConfig:
        """The provider config that points at this emulator."""
        return AwsConfig(
            region=self.region,
            endpoint_url=self.endpoint_url,
            credentials=FAKE_CREDENTIALS,
            name="default",
            description=self.description,
        )

    def create_kms_key(self, *, alias: str | None = None) -> str:
        """A new symmetric KMS key in the emulator (for ``sops --kms``); its ARN.
        ``alias`` (``NAME`` or ``alias/NAME``) names it too. The state is saved."""
        import boto3
        import botocore.exceptions

        credentials = FAKE_CREDENTIALS
        client = boto3.client(
            "kms",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
        )
        try:
            arn = str(
                client.create_key(Description="gitwave sandbox key for sops")["KeyMetadata"]["Arn"]
            )
            if alias:
                name = alias if alias.startswith("alias/") else f"alias/{alias}"
                client.create_alias(AliasName=name, TargetKeyId=arn)
        except botocore.exceptions.ClientError as exc:
            raise ProviderError(None, f"the embedded KMS refused: {exc}") from None
        self.save()
        return arn

    def environment(self) -> dict[str, str]:
        """The variables that point the AWS SDK (sops, the aws CLI) at this emulator."""
        return {
            "AWS_ENDPOINT_URL_KMS": self.endpoint_url,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS.access_key_id,
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS.secret_access_key,
        }

    def save(self) -> None:
        """Snapshot the emulator's state to ``state_file`` (nothing without one).

        Pass it as the provider's ``on_write``. Raises ProviderError when the
        state cannot be saved."""
        if self.state_file is None:
            return
        from moto.backends import get_backend
        from moto.core.base_backend import backend_lock

        version = _moto().__version__
        problem: Exception | None = None
        for _ in range(_SAVE_ATTEMPTS):
            buffer = io.BytesIO()
            try:
                with _SAVE_LOCK, backend_lock:
                    services = {name: dict(get_backend(name)) for name in SERVICES}  # type: ignore[call-overload]
                    _Snapshotter(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
                        {"format": SNAPSHOT_FORMAT, "moto": version, "services": services}
                    )
            except RuntimeError as exc:
                # A request changed a backend while it was being pickled: try again.
                problem = exc
                continue
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise ProviderError(
                    None, f"embedded AWS state could not be saved to {self.state_file}: {exc}"
                ) from None
            _write_atomically(self.state_file, buffer.getvalue())
            return
        raise ProviderError(
            None, f"embedded AWS state could not be saved to {self.state_file}: {problem}"
        )

    def close(self) -> None:
        """Save the state (with a state dir) and stop the server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.save()
        finally:
            self._server.stop()

    def _restore(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        from moto.backends import get_backend
        from moto.core.base_backend import BackendDict, backend_lock

        version = _moto().__version__
        try:
            with self.state_file.open("rb") as stream:
                snapshot = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            self.restore_problem = f"{self.state_file} is unreadable ({type(exc).__name__})"
            return
        if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
            self.restore_problem = f"{self.state_file} is not a gitwave emulator snapshot"
            return
        if snapshot.get("moto") != version:
            self.restore_problem = (
                f"it was saved by moto {snapshot.get('moto')}, this is moto {version}"
            )
            return
        with backend_lock:
            live = {name: get_backend(name) for name in SERVICES}  # type: ignore[call-overload]
            busy = sorted(name for name, backends in live.items() if len(backends))
            if busy:
                raise ProviderError(
                    None,
                    "the embedded AWS emulator cannot restore its state into a process whose "
                    f"moto already holds resources ({', '.join(busy)}); start gitwave afresh",
                )
            for name, accounts in snapshot["services"].items():
                if name not in live or not accounts:
                    continue
                live[name].update(accounts)
                # moto resets the backends it lists here when a mock ends.
                if live[name] not in BackendDict._instances:  # type: ignore[misc]
                    BackendDict._instances.append(live[name])  # type: ignore[misc]


def embedded_moto(*, region: str = DEFAULT_REGION, state_dir: Path | None = None) -> EmbeddedAws:
    """Start the emulator on 127.0.0.1 at a free port, quietly.

    With ``state_dir`` the state is restored from and saved to
    ``state_dir/aws-emulator.pickle`` (see the module docstring). Raises
    ProviderError when moto is not installed or the state cannot be restored.
    """
    moto = _moto()
    # The server logs every request; gitwave's output is its own.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    state_file = Path(state_dir) / SNAPSHOT_FILE if state_dir is not None else None
    embedded = EmbeddedAws(server=server, endpoint_url="", region=region, state_file=state_file)
    embedded._restore()
    _seed_network(region)
    server.start()
    host, port = server.get_host_and_port()
    embedded.endpoint_url = f"http://{host}:{port}"
    return embedded


# The emulator's own network, with fixed ids, so manifests written for it (the
# samples) can name subnets the way they would name real ones. A fresh moto
# has only a default VPC whose subnet ids are random on every start.
SANDBOX_VPC_CIDR = "10.42.0.0/16"
SANDBOX_SUBNETS = {
    "subnet-0a1e5c9b7d3f20001": ("10.42.1.0/24", "a"),
    "subnet-0a1e5c9b7d3f20002": ("10.42.2.0/24", "b"),
}


def _seed_network(region: str) -> None:
    """Create the sandbox VPC and subnets once (a restored snapshot has them)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    known = {sid for zone in backend.subnets.values() for sid in zone}
    if set(SANDBOX_SUBNETS) <= known:
        return
    vpc = backend.create_vpc(cidr_block=SANDBOX_VPC_CIDR)
    vpc.add_tag("Name", "gitwave-sandbox")
    for subnet_id, (cidr, zone) in SANDBOX_SUBNETS.items():
        if subnet_id in known:
            continue
        subnet = backend.create_subnet(
            vpc_id=vpc.id, cidr_block=cidr, availability_zone=f"{region}{zone}"
        )
        # moto picks random ids; give these the documented ones.
        zone_subnets = backend.subnets[subnet.availability_zone]
        del zone_subnets[subnet.id]
        subnet.id = subnet_id
        zone_subnets[subnet_id] = subnet


def _write_atomically(path: Path, data: bytes) -> None:
    private_directory(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
