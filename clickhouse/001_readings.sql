-- Readings in long format: one row per sensor, metric and timestamp (UTC epoch ms).
-- ReplacingMergeTree is the safety net for exactly-one-row-per-reading; the writer already skips
-- keys that are stored (packages/store/src/queries/readings.ts), so counts are exact without FINAL.
CREATE TABLE IF NOT EXISTS readings_raw (
  sensor_id String,
  metric String,
  ts Int64,
  value Float64,
  received_at Int64,
  source String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(ts, 1000)))
ORDER BY (sensor_id, metric, ts);

-- Rollups keep aggregate states, so any bucket can be merged into a wider one (minutes into days).
CREATE TABLE IF NOT EXISTS readings_per_minute (
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
ORDER BY (sensor_id, metric, bucket);

CREATE TABLE IF NOT EXISTS readings_per_hour (
  sensor_id String,
  metric String,
  bucket Int64,
  count AggregateFunction(count),
  sum AggregateFunction(sum, Float64),
  min AggregateFunction(min, Float64),
  max AggregateFunction(max, Float64),
  quantiles AggregateFunction(quantilesTDigest(0.5, 0.95), Float64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYear(toDateTime(intDiv(bucket, 1000)))
ORDER BY (sensor_id, metric, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_per_minute_mv TO readings_per_minute AS
SELECT
  sensor_id,
  metric,
  intDiv(ts, 60000) * 60000 AS bucket,
  countState() AS count,
  sumState(value) AS sum,
  minState(value) AS min,
  maxState(value) AS max,
  quantilesTDigestState(0.5, 0.95)(value) AS quantiles
FROM readings_raw
GROUP BY sensor_id, metric, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_per_hour_mv TO readings_per_hour AS
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
