"""The manifest of a loaded table: what was loaded, from which files, with which digest.

It lives in the models bucket at `dataset_manifest_path`, where the trainer and the publish
flow, which already write there, can read it with the same credentials.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ml.context import Context
from ml.contracts import dataset_manifest_path
from ml.errors import DataError
from ml.records import JsonObject


@dataclass(frozen=True)
class SourceRecord:
    name: str
    origin: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    table: str
    """Fully qualified `project.dataset.table`."""
    rows: int
    digest: str
    """`ImageSet.digest()` of the loaded rows."""
    image_shape: tuple[int, int]
    classes: int
    sources: tuple[SourceRecord, ...]
    selection: str
    """Which rows of the sources the table holds, in words."""
    loaded_at: str
    load_job: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: JsonObject = json.loads(text)
        data["image_shape"] = tuple(data["image_shape"])
        data["sources"] = tuple(SourceRecord(**s) for s in data["sources"])
        return cls(**data)


def write_manifest(context: Context, table_id: str, manifest: Manifest) -> str:
    """Write `table_id`'s manifest; its gs:// URI."""
    blob = context.models_bucket.blob(dataset_manifest_path(context.env.dataset_id, table_id))
    blob.upload_from_string(manifest.to_json(), content_type="application/json")
    return f"gs://{context.env.models_bucket}/{blob.name}"


def read_manifest(context: Context, table_id: str) -> Manifest:
    from google.api_core.exceptions import NotFound

    name = dataset_manifest_path(context.env.dataset_id, table_id)
    uri = f"gs://{context.env.models_bucket}/{name}"
    try:
        text = context.models_bucket.blob(name).download_as_text()
    except NotFound:
        raise DataError(f"{uri} does not exist: table {table_id!r} was never loaded; run `make load-data`") from None
    try:
        return Manifest.from_json(text)
    except (ValueError, TypeError, KeyError) as error:
        raise DataError(f"{uri} is not a valid manifest ({error}); run `make load-data` again") from None
