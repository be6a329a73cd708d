-- A shadow fault model's run beside the active one (services/predictor): one row per shadow version,
-- sensor, metric and hour that either model flagged, with both verdicts from the same pass over the
-- same window. `*_kind` is the flagged fault kind, '' when that model did not flag; `*_score` is
-- 1 − p(none) either way; `active_version` is '' when no fault model was active. A table of its own
-- rather than rows in `anomalies`: everything users see (fault counts, feedback, WebSocket replay)
-- reads `anomalies` and stays untouched by shadow runs. `id` is derived by the producer from shadow
-- version, sensor, metric and hour, so a re-scored hour replaces its row (the last detected wins).
CREATE TABLE IF NOT EXISTS fault_shadow_verdicts (
  id String,
  sensor_id String,
  metric String,
  ts Int64,
  shadow_version String,
  shadow_kind String,
  shadow_score Float64,
  active_version String,
  active_kind String,
  active_score Float64,
  value Float64,
  expected Float64,
  stream_id String,
  detected_at Int64
) ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))
ORDER BY (shadow_version, ts, sensor_id, metric, id);
