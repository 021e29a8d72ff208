from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import StackError
from infra.terraform_json import load_stack


def write(tmp_path: Path, resources: dict[str, object]) -> Path:
    path = tmp_path / "cdk.tf.json"
    path.write_text(json.dumps({"resource": resources}))
    return path


def test_references_to_other_resources_are_resolved(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "google_bigquery_dataset": {"ds": {"//": {"metadata": {}}, "dataset_id": "d", "project": "p"}},
            "google_bigquery_table": {"t": {"dataset_id": "${google_bigquery_dataset.ds.dataset_id}", "table_id": "t"}},
        },
    )
    by_address = {r.address: r for r in load_stack(path)}
    assert by_address["google_bigquery_table.t"].attributes == {"dataset_id": "d", "table_id": "t"}
    assert "//" not in by_address["google_bigquery_dataset.ds"].attributes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${google_bigquery_dataset.ds.missing}", "does not set"),
        ("${upper(google_bigquery_dataset.ds.dataset_id)}", "cannot evaluate"),
    ],
)
def test_unresolvable_expressions_are_stack_errors(tmp_path: Path, value: str, message: str) -> None:
    path = write(
        tmp_path,
        {
            "google_bigquery_dataset": {"ds": {"dataset_id": "d"}},
            "google_bigquery_table": {"t": {"dataset_id": value}},
        },
    )
    with pytest.raises(StackError, match=message):
        load_stack(path)


def test_missing_stack_says_to_synthesize(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"make synth"):
        load_stack(tmp_path / "nope.json")


def test_malformed_stack_says_to_synthesize_again(tmp_path: Path) -> None:
    (tmp_path / "cdk.tf.json").write_text("{")
    with pytest.raises(StackError, match=r"not valid JSON.*make synth"):
        load_stack(tmp_path / "cdk.tf.json")
