-- The readings stream's entry id on every stored reading ("<ms>-<seq>" as two integers), so a
-- WebSocket client whose resume cursor the stream has already trimmed is replayed from ClickHouse,
-- in stream order, up to where the stream takes over. Rows written before this migration have 0.
ALTER TABLE readings_raw ADD COLUMN entry_ms Int64 DEFAULT 0;

ALTER TABLE readings_raw ADD COLUMN entry_seq Int64 DEFAULT 0;

-- readings_raw is ordered by (sensor_id, metric, ts), so "entries after X" would scan it whole, and
-- 18.16 has no skip indexes. This table orders one row per entry by its id: a replay page reads a
-- primary-key range here, then looks its rows up in readings_raw by (sensor_id, ts), its own key.
CREATE TABLE IF NOT EXISTS readings_entries (
  entry_ms Int64,
  entry_seq Int64,
  sensor_id String,
  ts Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(entry_ms, 1000)))
ORDER BY (entry_ms, entry_seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_entries_mv TO readings_entries AS
SELECT entry_ms, entry_seq, any(sensor_id) AS sensor_id, any(ts) AS ts
FROM readings_raw
WHERE entry_ms > 0
GROUP BY entry_ms, entry_seq;

-- @min-version 20.3
ALTER TABLE readings_raw MODIFY COLUMN entry_ms Int64 DEFAULT 0 CODEC(Delta, ZSTD(1));
