"""Artifacts in the models bucket: content-addressed, immutable, verified after upload and on download.

A file lives at `<prefix>/<kind>/<sha256>/<file name>`, a directory (a SavedModel) under
`<prefix>/<kind>/<tree sha256>/`, where the tree digest is the SHA-256 of its sorted
`relative/path sha256` lines. Uploading what is already there uploads nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ml.errors import ArtifactError
from ml.registry.versions import Artifact

if TYPE_CHECKING:
    import google.cloud.storage as storage


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def tree_sha256(files: dict[str, str]) -> str:
    """Digest of a directory given `relative path -> sha256` of its files."""
    return hashlib.sha256("".join(f"{p} {d}\n" for p, d in sorted(files.items())).encode()).hexdigest()


class ArtifactStore:
    def __init__(self, client: storage.Client, bucket: str, prefix: str) -> None:
        self.client, self.bucket_name, self.prefix = client, bucket, prefix.strip("/")
        self.bucket = client.bucket(bucket)

    def put(self, path: Path, kind: str) -> Artifact:
        """Upload a file or a directory (once), check what the bucket holds, and describe it."""
        if path.is_dir():
            files = {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*")) if p.is_file()}
            digests = {rel: file_sha256(p) for rel, p in files.items()}
            digest = tree_sha256(digests)
            base = f"{self.prefix}/{kind}/{digest}"
            for rel, local in files.items():
                self._put_object(local, f"{base}/{rel}", digests[rel])
            size = sum(p.stat().st_size for p in files.values())
            return Artifact(uri=f"gs://{self.bucket_name}/{base}", sha256=digest, size=size)
        if not path.is_file():
            raise ArtifactError(f"{path} does not exist; is the run directory complete?")
        digest = file_sha256(path)
        name = f"{self.prefix}/{kind}/{digest}/{path.name}"
        self._put_object(path, name, digest)
        return Artifact(uri=f"gs://{self.bucket_name}/{name}", sha256=digest, size=path.stat().st_size)

    def verify(self, artifact: Artifact) -> None:
        """Read the artifact back; an ArtifactError if anything is missing or differs."""
        with tempfile.TemporaryDirectory() as scratch:
            self.fetch(artifact, Path(scratch) / "artifact")

    def fetch(self, artifact: Artifact, destination: Path) -> Path:
        """Download to `destination` (a file, or a folder for trees); bytes not the registered ones are refused."""
        name = self._object_name(artifact.uri)
        blobs = list(self.client.list_blobs(self.bucket_name, prefix=name + "/"))
        if blobs:  # a directory
            digests = {}
            for blob in blobs:
                rel = blob.name[len(name) + 1 :]
                target = destination / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                blob.download_to_filename(str(target))
                digests[rel] = file_sha256(target)
            actual = tree_sha256(digests)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            blob = self.bucket.blob(name)
            from google.api_core.exceptions import NotFound

            try:
                blob.download_to_filename(str(destination))
            except NotFound:
                raise ArtifactError(f"{artifact.uri} is missing from the bucket; publish the run again") from None
            actual = file_sha256(destination)
        if actual != artifact.sha256:
            raise ArtifactError(
                f"{artifact.uri} has SHA-256 {actual}, not the registered {artifact.sha256}: refusing it; "
                "the object was changed after publishing, publish the run again"
            )
        return destination

    def _put_object(self, local: Path, name: str, digest: str) -> None:
        blob = self.bucket.blob(name)
        if blob.exists():
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / "copy"
                blob.download_to_filename(str(copy))
                if file_sha256(copy) == digest:
                    return  # content-addressed: already there, and intact
        blob.upload_from_filename(str(local))
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "copy"
            blob.download_to_filename(str(copy))
            if file_sha256(copy) != digest:
                raise ArtifactError(f"gs://{self.bucket_name}/{name} does not read back as uploaded; publish again")

    def _object_name(self, uri: str) -> str:
        prefix = f"gs://{self.bucket_name}/"
        if not uri.startswith(prefix):
            raise ArtifactError(f"{uri} is not in gs://{self.bucket_name}; it cannot be fetched from this environment")
        return uri[len(prefix) :].rstrip("/")
