-- Sensor orders. Each change (status, provisioned sensors, device keys claimed) writes a new row
-- version; reads take the latest with FINAL. Items stay a JSON string: they are only ever read
-- whole, with the order, and their shape can grow without a migration.
CREATE TABLE IF NOT EXISTS orders (
  id String,
  owner_id String,
  status String,
  items String,
  total_quantity UInt32,
  notes String,
  sensor_ids Array(String),
  keys_claimed_at Int64,
  created_at Int64,
  updated_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- The audit trail: one row per status transition, with who made it, why and when (epoch ms).
-- Append-only, so a plain MergeTree; seq orders transitions that share a millisecond.
CREATE TABLE IF NOT EXISTS order_events (
  order_id String,
  from_status String,
  to_status String,
  actor_id String,
  reason String,
  at Int64,
  seq UInt64
) ENGINE = MergeTree
ORDER BY (order_id, at, seq);
