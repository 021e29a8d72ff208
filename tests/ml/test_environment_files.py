"""`environments/<name>.toml` into the typed settings: every mistake is one line naming file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.environment_files import DIRECTORY, load
from ml.environments import ENVIRONMENTS, Environment, FunctionSizing, Monitoring, Protections
from ml.errors import ConfigError

MINIMAL = """
project = "p"
region = "europe-west1"
bq_location = "EU"
prefix = "staging"
[protections]
deletion_protection = true
force_destroy_buckets = false
"""


def written(tmp_path: Path, text: str, name: str = "dev") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_a_file_sets_what_it_names_and_the_rest_keeps_its_defaults(tmp_path: Path) -> None:
    env = load(Environment, written(tmp_path, MINIMAL + '[function]\nmemory = "1Gi"\ninvokers = ["group:g@x.com"]\n'))
    assert (env.name, env.project, env.region, env.prefix) == ("dev", "p", "europe-west1", "staging")
    assert env.protections == Protections(deletion_protection=True, force_destroy_buckets=False)
    assert env.function == FunctionSizing(memory="1Gi", invokers=("group:g@x.com",))
    assert env.monitoring == Monitoring()
    assert env.placeholders == ()


def test_the_committed_files_load_with_their_examples_marked() -> None:
    assert set(ENVIRONMENTS) == {path.stem for path in DIRECTORY.glob("*.toml")}
    assert ENVIRONMENTS["local"].placeholders == ()
    assert ENVIRONMENTS["dev"].placeholders == ("project", "github_repository", "github_repository_id")
    assert "monitoring.notification_emails" in ENVIRONMENTS["prod"].placeholders
    assert ENVIRONMENTS["prod"].monitoring.notification_emails == ("ml-oncall@example.com",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("projcet = 'x'\n", "dev.toml: `projcet` is not a setting; remove it, or use one of: bq_location,"),
        ("[function]\nmemroy = '1Gi'\n", "dev.toml: `function.memroy` is not a setting; remove it, or use one of:"),
        ("tensorboard = 'yes'\n", "dev.toml: `tensorboard` is a string ('yes'); it takes true or false"),
        ("[function]\nmax_instances = 2.5\n", "`function.max_instances` is a number (2.5); it takes an integer"),
        ("[function]\ningress = 'ALL'\n", "`function.ingress` is a string ('ALL'); use one of 'ALLOW_ALL',"),
        ("operators = 'user:a@b.c'\n", "`operators` is a string ('user:a@b.c'); write a list, e.g. operators = []"),
        ("function = 3\n", "`function` is an integer (3); write it as a table, [function]"),
    ],
)
def test_a_wrong_key_or_type_is_one_line_naming_file_key_and_fix(tmp_path: Path, extra: str, message: str) -> None:
    top, tables = (extra, "") if not extra.startswith("[") else ("", extra)
    with pytest.raises(ConfigError) as error:
        load(Environment, written(tmp_path, top + MINIMAL + tables))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_value_names_the_key_and_what_it_takes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^dev\.toml: `region` is missing; add `region = \.\.\.` \(a string\)$"):
        load(Environment, written(tmp_path, MINIMAL.replace('region = "europe-west1"\n', "")))
    with pytest.raises(ConfigError, match=r"`protections\.force_destroy_buckets` is missing"):
        load(Environment, written(tmp_path, MINIMAL.replace("force_destroy_buckets = false\n", "")))
    with pytest.raises(ConfigError, match=r"staging\.toml is missing: every environment needs its file"):
        load(Environment, tmp_path / "staging.toml")
    with pytest.raises(ConfigError, match=r"dev\.toml is not valid TOML \(.*\); fix that line$"):
        load(Environment, written(tmp_path, "project = \n"))


def test_a_placeholder_loads_its_example_and_is_named(tmp_path: Path) -> None:
    text = MINIMAL.replace('project = "p"', 'project = { placeholder = "example-project" }')
    env = load(
        Environment, written(tmp_path, text + "[monitoring]\nnotification_emails = { placeholder = ['a@b.c'] }\n")
    )
    assert env.project == "example-project"
    assert env.monitoring.notification_emails == ("a@b.c",)
    assert env.placeholders == ("project", "monitoring.notification_emails")
