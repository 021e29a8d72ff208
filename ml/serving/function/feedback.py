"""`POST /feedback`: true labels for a request's instances, appended to BigQuery's `feedback` table.

    {"request_id": "<the id a prediction answered with>", "labels": [7, 2, null, ...]}

One label per instance of that request, in its order; `null` where the label is not known.
The request must be one this endpoint answered: a worker knows the requests it served itself;
another worker or instance reads `predictions`, waiting up to `LOG_DELAY_S` for rows the
prediction log has not written yet (it writes once a second). The
monitor (`python -m ml monitor`) joins the latest label of each instance with its prediction.

Each row's insert id is the request, the instance and the label, so BigQuery drops most copies
of a repeated post (best effort; the emulator keeps them); a corrected label is a new row. The
monitor counts each instance's latest label once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from errors import BadRequestError, NotFoundError, UnavailableError

RECENT_REQUESTS = 20_000
"""Requests an instance remembers answering (about 100 bytes each)."""
LOOKBACK_DAYS = 30
"""How old a prediction feedback may still be given for."""
LOG_DELAY_S = 3.0
"""How long a request not found in `predictions` is looked for again: the log writes once a second."""


class Answered(NamedTuple):
    """What feedback on a request is checked against: its instances and the model's classes."""

    instances: int
    classes: int


class RecentRequests:
    """The requests this instance answered last, oldest forgotten first; shared by the worker's threads."""

    def __init__(self, capacity: int = RECENT_REQUESTS) -> None:
        self.capacity = capacity
        self._answered: OrderedDict[str, Answered] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, request_id: str, answered: Answered) -> None:
        with self._lock:
            self._answered[request_id] = answered
            while len(self._answered) > self.capacity:
                self._answered.popitem(last=False)

    def get(self, request_id: str) -> Answered | None:
        with self._lock:
            return self._answered.get(request_id)


class FeedbackTable:
    def __init__(self, client_factory: Callable[[], Any], predictions_table: str, feedback_table: str) -> None:
        self.client_factory, self.predictions_table, self.feedback_table = (
            client_factory,
            predictions_table,
            feedback_table,
        )
        self.recent = RecentRequests()
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def record(self, body: Any) -> dict[str, Any]:
        """Check `body` against the request it names and append its labels; the answer's body."""
        request_id, labels = _parse(body)
        answered = self.recent.get(request_id) or self._logged(request_id)
        deadline = time.monotonic() + LOG_DELAY_S
        while answered is None and time.monotonic() < deadline:
            time.sleep(1.0)
            answered = self._logged(request_id)
        if answered is None:
            raise NotFoundError(
                f"no prediction request {request_id!r} in the last {LOOKBACK_DAYS} days; give the request_id a "
                "prediction answered with (a request answered within the last seconds may not be logged yet: retry)"
            )
        if len(labels) != answered.instances:
            raise BadRequestError(
                f"request {request_id!r} had {answered.instances} instances and the feedback has {len(labels)} labels; "
                "send one label per instance, in order, null where unknown"
            )
        for i, label in enumerate(labels):
            if label is not None and not 0 <= label < answered.classes:
                raise BadRequestError(f"labels[{i}] is {label}; class ids are 0..{answered.classes - 1}")
        now = datetime.now(UTC).isoformat()
        rows = [
            {"request_id": request_id, "instance_index": i, "label": label, "feedback_time": now}
            for i, label in enumerate(labels)
            if label is not None
        ]
        if rows:
            ids = [f"{request_id}-{row['instance_index']}-{row['label']}" for row in rows]
            try:
                errors = self.client.insert_rows_json(self.feedback_table, rows, row_ids=ids)
            except Exception as error:  # the client's transport errors are many; each is an outage here
                raise UnavailableError(f"the feedback could not be written ({error}); retry") from None
            if errors:
                raise UnavailableError(f"the feedback could not be written ({errors}); retry")
        return {"request_id": request_id, "labels_recorded": len(rows)}

    def _logged(self, request_id: str) -> Answered | None:
        from google.cloud import bigquery

        query = (
            "SELECT COUNT(*) AS instances, MAX(ARRAY_LENGTH(probabilities)) AS classes "
            f"FROM `{self.predictions_table}` WHERE request_id = @request_id "
            f"AND prediction_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {LOOKBACK_DAYS} DAY)"
        )
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("request_id", "STRING", request_id)]
        )
        try:
            row = next(iter(self.client.query(query, job_config=config).result()))
        except Exception as error:
            raise UnavailableError(f"the prediction log cannot be read ({error}); retry") from None
        return Answered(int(row["instances"]), int(row["classes"])) if row["instances"] else None


def _parse(body: Any) -> tuple[str, list[int | None]]:
    shape = 'send {"request_id": "<id>", "labels": [class id or null, ...]}'
    if not isinstance(body, dict) or set(body) != {"request_id", "labels"}:
        raise BadRequestError(f"the body must be a JSON object with request_id and labels only; {shape}")
    request_id, labels = body["request_id"], body["labels"]
    if not isinstance(request_id, str) or not request_id:
        raise BadRequestError(f"request_id must be a non-empty string; {shape}")
    if not isinstance(labels, list) or not labels:
        raise BadRequestError(f"labels must be a non-empty list; {shape}")
    for i, label in enumerate(labels):
        if label is not None and (isinstance(label, bool) or not isinstance(label, int)):
            raise BadRequestError(f"labels[{i}] is {label!r}; a label is a class id (an integer) or null")
    return request_id, labels
