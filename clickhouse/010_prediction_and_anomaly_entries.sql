-- What 008 did for readings, for the predictor's outputs: a WebSocket client whose resume cursor the
-- `predictions` or `anomalies` stream has already trimmed is replayed from ClickHouse, in stream
-- order. Both tables already keep the entry a row came from (`stream_id`, "<ms>-<seq>", filled by
-- the writer) but are ordered by (sensor_id, metric, ts, id), so "entries after X" would scan them
-- whole (18.16 has no skip indexes), and a String compares "9" after "10". These tables hold one row
-- per entry ordered by its id as two integers; a replay page reads a primary-key range here, then
-- looks its rows up in `predictions` / `anomalies` by their own key. Rows that did not come over the
-- bus (stream_id "") are left out; the parse cannot throw, so no stream_id can fail a writer's insert.
-- Materialized views suffice here: insertPredictions and insertAnomalies send every row of a batch
-- again on a retry (nothing is skipped as already stored), and a view only projects, no GROUP BY.
CREATE TABLE IF NOT EXISTS predictions_entries (
  entry_ms Int64,
  entry_seq Int64,
  sensor_id String,
  metric String,
  ts Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(entry_ms, 1000)))
ORDER BY (entry_ms, entry_seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS predictions_entries_mv TO predictions_entries AS
SELECT
  toInt64OrZero(splitByChar('-', stream_id)[1]) AS entry_ms,
  toInt64OrZero(splitByChar('-', stream_id)[2]) AS entry_seq,
  sensor_id,
  metric,
  ts
FROM predictions
WHERE match(stream_id, '^[0-9]+-[0-9]+$');

CREATE TABLE IF NOT EXISTS anomalies_entries (
  entry_ms Int64,
  entry_seq Int64,
  sensor_id String,
  metric String,
  ts Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(entry_ms, 1000)))
ORDER BY (entry_ms, entry_seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS anomalies_entries_mv TO anomalies_entries AS
SELECT
  toInt64OrZero(splitByChar('-', stream_id)[1]) AS entry_ms,
  toInt64OrZero(splitByChar('-', stream_id)[2]) AS entry_seq,
  sensor_id,
  metric,
  ts
FROM anomalies
WHERE match(stream_id, '^[0-9]+-[0-9]+$');

-- Rows stored before this migration; last, so that no failure after it re-runs it (and a re-run
-- would only add duplicates, which the tables' engine and the replay both collapse).
INSERT INTO predictions_entries
SELECT
  toInt64OrZero(splitByChar('-', stream_id)[1]),
  toInt64OrZero(splitByChar('-', stream_id)[2]),
  sensor_id,
  metric,
  ts
FROM predictions
WHERE match(stream_id, '^[0-9]+-[0-9]+$');

INSERT INTO anomalies_entries
SELECT
  toInt64OrZero(splitByChar('-', stream_id)[1]),
  toInt64OrZero(splitByChar('-', stream_id)[2]),
  sensor_id,
  metric,
  ts
FROM anomalies
WHERE match(stream_id, '^[0-9]+-[0-9]+$');
