-- Hourly rollup ordered by time first. readings_per_hour is ordered by sensor, so a query over every
-- sensor for one day (dashboards, the all-sensors summary) reads every hour ever stored; this copy
-- reads only that day's rows. Same columns in the same order as readings_per_hour, so rollup repair
-- (packages/store/src/queries/rollup-repair.ts) can fill it with the same INSERT … SELECT.
CREATE TABLE IF NOT EXISTS readings_per_hour_by_time (
  sensor_id String,
  metric String,
  bucket Int64,
  count AggregateFunction(count),
  sum AggregateFunction(sum, Float64),
  min AggregateFunction(min, Float64),
  max AggregateFunction(max, Float64),
  quantiles AggregateFunction(quantilesTDigest(0.5, 0.95), Float64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket, 1000)))
ORDER BY (bucket, sensor_id, metric);

-- Fed from readings_raw, not from readings_per_hour: ClickHouse 18.16 does not run a view on rows
-- another view inserted (views do not cascade there).
CREATE MATERIALIZED VIEW IF NOT EXISTS readings_per_hour_by_time_mv TO readings_per_hour_by_time AS
SELECT
  sensor_id,
  metric,
  intDiv(ts, 3600000) * 3600000 AS bucket,
  countState() AS count,
  sumState(value) AS sum,
  minState(value) AS min,
  maxState(value) AS max,
  quantilesTDigestState(0.5, 0.95)(value) AS quantiles
FROM readings_raw
GROUP BY sensor_id, metric, bucket;

-- Anomalies the prediction worker flags; empty until it runs. `id` is derived by the producer from
-- what identifies the finding (model version, sensor, metric, ts, kind), so a redelivered or
-- re-scored window replaces its row instead of adding one; counts use uniqExact(id) and are exact
-- before merges. `stream_id` is the `anomalies` stream entry the row came from, so a WebSocket
-- client resuming past the stream's trim point can be replayed from here in stream order.
CREATE TABLE IF NOT EXISTS anomalies (
  id String,
  sensor_id String,
  metric String,
  ts Int64,
  kind String,
  score Float64,
  threshold Float64,
  value Float64,
  expected Float64,
  window_start Int64,
  model_id String,
  model_version String,
  stream_id String,
  detected_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))
ORDER BY (sensor_id, metric, ts, id);

-- Hours stored before this migration, copied state for state; last, so that no failure after it
-- re-runs it. Migrations run before any writer starts (services/mesh), so no reading reaches both
-- readings_per_hour_by_time_mv and this copy.
INSERT INTO readings_per_hour_by_time
SELECT sensor_id, metric, bucket, count, sum, min, max, quantiles FROM readings_per_hour;
