-- Forecasts from the prediction worker (services/predictor), one row per sensor, metric, origin hour
-- and model version. `id` is derived by the producer from model, version, sensor, metric and origin,
-- so a redelivered or re-scored forecast replaces its row (ReplacingMergeTree by `version`) and
-- readers that need exact answers before merges pick argMax(…, version) per id. Quantiles are
-- arrays aligned with `horizons` (minutes after `ts`). `role` is `active` for the serving model and
-- `shadow` for a candidate scored beside it.
CREATE TABLE IF NOT EXISTS predictions (
  id String,
  sensor_id String,
  metric String,
  ts Int64,
  horizons Array(Int32),
  p10 Array(Float64),
  p50 Array(Float64),
  p90 Array(Float64),
  model String,
  model_version String,
  role String,
  stream_id String,
  created_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))
ORDER BY (sensor_id, metric, ts, id);

-- The model registry. A version's row is rewritten (same task and version, higher `updated_at`)
-- when its status changes, so readers take argMax(…, updated_at) per (task, version). `status`:
-- active (serves; one per task), shadow (scored beside the active one), candidate (registered,
-- idle), retired. `card` is the model card JSON, `metrics` what evaluation measured, `previous`
-- the version that was active when this one was activated (what a roll-back returns to).
CREATE TABLE IF NOT EXISTS models (
  task String,
  version String,
  name String,
  sha256 String,
  status String,
  card String,
  metrics String,
  source String,
  previous String,
  created_by String,
  created_at Int64,
  updated_at Int64
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (task, version);

-- The ONNX bytes of every registered model, base64, addressed by their sha256: ClickHouse is the
-- system of record, so any replica can load any version without a shared disk.
CREATE TABLE IF NOT EXISTS model_files (
  sha256 String,
  bytes String,
  size UInt64,
  created_at Int64
) ENGINE = ReplacingMergeTree()
ORDER BY sha256;

-- Feedback on a prediction or an anomaly: right or wrong, and for an anomaly optionally the fault
-- kind it really was. Retraining reads it (anomalies marked wrong become clean hours).
CREATE TABLE IF NOT EXISTS feedback (
  id String,
  target String,
  target_id String,
  sensor_id String,
  metric String,
  ts Int64,
  verdict String,
  kind String,
  note String,
  user_id String,
  created_at Int64
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY (target, target_id, user_id);
