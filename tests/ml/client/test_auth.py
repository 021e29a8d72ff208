"""A person calls a cloud endpoint: google-auth impersonates `invoker` for an ID token (IAM Credentials
and Cloud Run's authentication are faked at their wire protocol; the function behind them is real)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.auth import iam
from google.oauth2.credentials import Credentials

from ml.client import InferAPI, PredictionError
from ml.client.auth import id_token_credentials
from ml.data import Dataset
from ml.environments import ENVIRONMENTS
from tests.support.fake_google_iam import FakeGoogleIam, fake_google_iam

LOCAL, DEV = ENVIRONMENTS["local"], ENVIRONMENTS["dev"]
INVOKER = DEV.service_account_email("invoker")


@pytest.fixture
def cloud_run(served: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogleIam]:
    """The real function behind Cloud Run's authentication; `person` may impersonate the invoker."""
    with fake_google_iam(served, token_creators={INVOKER: {"person"}}, invokers={INVOKER}) as fake:
        monkeypatch.setattr(iam, "_IAM_IDTOKEN_ENDPOINT", fake.id_token_endpoint)
        yield fake


def test_a_persons_credentials_call_the_endpoint_as_the_invoker(cloud_run: FakeGoogleIam, test_rows: Dataset) -> None:
    person = Credentials(token="person")  # type: ignore[no-untyped-call]  # what `gcloud auth application-default login` gives: no ID tokens
    credentials = id_token_credentials(cloud_run.url, INVOKER, source=person)
    api = InferAPI(cloud_run.url, project=LOCAL.project, credentials=credentials)
    answer = api.predict(test_rows.images, batch_size=16, progress=False)
    assert len(answer["class_ids"]) == len(test_rows.images) == 40
    assert cloud_run.minted == [(INVOKER, cloud_run.url)]  # one token for the three requests, audience the URL


def test_someone_not_among_the_invokers_gets_one_line_saying_what_to_do(cloud_run: FakeGoogleIam) -> None:
    stranger = id_token_credentials(cloud_run.url, INVOKER, source=Credentials(token="stranger"))  # type: ignore[no-untyped-call]
    with pytest.raises(
        PredictionError, match=r"no identity token .*getOpenIdToken.*`operators`.*make bootstrap ENV="
    ) as error:
        InferAPI(cloud_run.url, project=LOCAL.project, credentials=stranger).get_model_meta()
    assert "\n" not in str(error.value)
    with pytest.raises(PredictionError, match="answered 401"):
        InferAPI(cloud_run.url, project=LOCAL.project).get_model_meta()
    assert cloud_run.minted == []


def test_a_refused_impersonation_is_one_line_naming_the_setting_and_the_command(cloud_run: FakeGoogleIam) -> None:
    from google.auth import impersonated_credentials

    from ml.client.auth import AuthError, check_impersonation, impersonated

    stranger = Credentials(token="stranger")  # type: ignore[no-untyped-call]
    credentials = impersonated_credentials.IDTokenCredentials(  # type: ignore[no-untyped-call]
        impersonated(INVOKER, stranger), target_audience=cloud_run.url
    )
    refused = r"may not act as .*`operators` in environments/dev\.toml, then run `make bootstrap ENV=dev`"
    with pytest.raises(AuthError, match=refused) as error:
        check_impersonation(credentials, INVOKER, "dev")
    assert "\n" not in str(error.value)
