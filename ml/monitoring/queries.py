"""The monitor's SQL: each served version's figures over a window, computed where the rows are.

One text for BigQuery and the emulator alike (GoogleSQL); only aggregates come back, never the
logged rows, so the monitor costs the same on ten predictions as on ten million. Parameters:
`@model`, `@since`, `@until` (TIMESTAMP) and `@version` (NULL: every version served).
"""

from __future__ import annotations

from ml.records import CONFIDENCE_BINS

_SERVED = """
served AS (
  SELECT model_version, request_id, instance_index, predicted_class, latency_ms,
    (SELECT MAX(p) FROM UNNEST(probabilities) AS p) AS confidence
  FROM `{predictions}`
  WHERE model = @model AND prediction_time >= @since AND prediction_time < @until
    AND (@version IS NULL OR model_version = @version)
),
baseline AS (
  SELECT model_version, metrics FROM `{evaluations}`
  WHERE model = @model AND JSON_QUERY(metrics, '$.profile') IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY model_version ORDER BY evaluated_at DESC) = 1
),
observed AS (
  SELECT model_version, 'class' AS kind, predicted_class AS bin, COUNT(*) AS n FROM served GROUP BY 1, 2, 3
  UNION ALL
  SELECT model_version, 'confidence', LEAST(CAST(FLOOR(confidence * {bins}) AS INT64), {last_bin}), COUNT(*)
  FROM served GROUP BY 1, 2, 3
),
expected AS (
  -- The offset is renamed in the select list: the emulator's DuckDB does not join on an offset's own alias.
  SELECT model_version, 'class' AS kind, position AS bin, CAST(JSON_VALUE(share) AS FLOAT64) AS q
  FROM baseline, UNNEST(JSON_QUERY_ARRAY(metrics, '$.profile.class_distribution')) AS share WITH OFFSET AS position
  UNION ALL
  SELECT model_version, 'confidence', position, CAST(JSON_VALUE(share) AS FLOAT64)
  FROM baseline, UNNEST(JSON_QUERY_ARRAY(metrics, '$.profile.confidence_histogram')) AS share WITH OFFSET AS position
),
paired AS (
  SELECT model_version, kind, bin, IFNULL(o.n, 0) AS n,
    IFNULL(o.n, 0) / SUM(IFNULL(o.n, 0)) OVER (PARTITION BY model_version, kind) AS p, e.q AS q
  FROM observed AS o FULL OUTER JOIN expected AS e USING (model_version, kind, bin)
  WHERE model_version IN (SELECT model_version FROM served)
),
labels AS (
  SELECT request_id, instance_index, label FROM `{feedback}`
  WHERE feedback_time >= @since
  QUALIFY ROW_NUMBER() OVER (PARTITION BY request_id, instance_index ORDER BY feedback_time DESC) = 1
),
judged AS (
  SELECT model_version, predicted_class, label FROM served JOIN labels USING (request_id, instance_index)
)"""

VERSIONS = (
    "WITH"
    + _SERVED
    + """,
requests AS (
  SELECT model_version, request_id, ANY_VALUE(latency_ms) AS latency_ms FROM served GROUP BY 1, 2
),
traffic AS (
  SELECT model_version, COUNT(*) AS requests, APPROX_QUANTILES(latency_ms, 100) AS quantiles
  FROM requests GROUP BY 1
),
instances AS (
  SELECT model_version, COUNT(*) AS instances,
    AVG(confidence) AS confidence_mean, COUNTIF(confidence < 0.5) / COUNT(*) AS low_confidence_share
  FROM served GROUP BY 1
),
drift AS (
  -- Jensen-Shannon divergence, base 2, against the midpoint m = (p + q) / 2; 0 log 0 = 0.
  SELECT model_version, kind,
    0.5 * SUM(IF(p > 0, p * LOG(p / ((p + q) / 2), 2), 0))
      + 0.5 * SUM(IF(q > 0, q * LOG(q / ((p + q) / 2), 2), 0)) AS js,
    MAX(ABS(p - q)) AS linf,
    COUNTIF(q IS NULL) AS unbaselined
  FROM paired GROUP BY 1, 2
),
accuracy AS (
  SELECT model_version, COUNT(*) AS labelled, COUNTIF(predicted_class = label) / COUNT(*) AS online_accuracy
  FROM judged GROUP BY 1
)
SELECT model_version, requests, instances,
  quantiles[OFFSET(50)] AS latency_p50_ms, quantiles[OFFSET(95)] AS latency_p95_ms,
  quantiles[OFFSET(99)] AS latency_p99_ms, confidence_mean, low_confidence_share,
  IF(c.unbaselined > 0, NULL, c.js) AS class_drift_js, IF(c.unbaselined > 0, NULL, c.linf) AS class_drift_linf,
  IF(h.unbaselined > 0, NULL, h.js) AS confidence_drift_js,
  IFNULL(labelled, 0) AS labelled, online_accuracy
FROM traffic
JOIN instances USING (model_version)
LEFT JOIN (SELECT * FROM drift WHERE kind = 'class') AS c USING (model_version)
LEFT JOIN (SELECT * FROM drift WHERE kind = 'confidence') AS h USING (model_version)
LEFT JOIN accuracy USING (model_version)
ORDER BY model_version
"""
)
"""One row per version served in the window. A drift is NULL where the version has no recorded
profile (published before profiles were recorded) or predicted a class its profile lacks."""

BINS = (
    "WITH"
    + _SERVED
    + """
SELECT model_version, kind, bin, n, p AS observed, q AS expected FROM paired
UNION ALL
SELECT model_version, 'recall', label, COUNT(*), COUNTIF(predicted_class = label) / COUNT(*), NULL
FROM judged GROUP BY 1, 2, 3
ORDER BY model_version, kind, bin
"""
)
"""Per version: the observed and the baseline share of each class and confidence bin, and each
true class's recall among the instances with feedback (`n` of them)."""


def render(query: str, *, predictions: str, feedback: str, evaluations: str) -> str:
    """`query` on the environment's tables (fully qualified ids)."""
    return query.format(
        predictions=predictions,
        feedback=feedback,
        evaluations=evaluations,
        bins=CONFIDENCE_BINS,
        last_bin=CONFIDENCE_BINS - 1,
    )
