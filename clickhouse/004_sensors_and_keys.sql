-- The sensor registry, device keys and API keys. Like accounts (003), every change writes a new
-- row version and reads take the latest with FINAL: ReplacingMergeTree(version) keyed by identity.
CREATE TABLE IF NOT EXISTS sensors (
  id String,
  name String,
  kind String,
  manufacturer String,
  model String,
  latitude Float64,
  longitude Float64,
  site String,
  tags Array(String),
  metrics Array(String),
  status String,
  created_at Int64,
  updated_at Int64,
  created_by String,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- One row per key ever issued (only its SHA-256), so rotations keep their history; sensor_id leads
-- the key, so a sensor's current (status = 'active') key is a prefix lookup.
CREATE TABLE IF NOT EXISTS device_keys (
  sensor_id String,
  key_hash String,
  prefix String,
  status String,
  created_at Int64,
  revoked_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (sensor_id, key_hash);

-- API keys are found by their public prefix on every request; id identifies one for revocation.
-- expires_at and revoked_at are epoch ms, 0 meaning never.
CREATE TABLE IF NOT EXISTS api_keys (
  id String,
  user_id String,
  name String,
  prefix String,
  key_hash String,
  scopes Array(String),
  created_at Int64,
  expires_at Int64,
  revoked_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (prefix, id);

-- Last use lives apart from the key: a use recorded while the key is being revoked must never
-- write back an older key row (and un-revoke it). The latest time wins.
CREATE TABLE IF NOT EXISTS api_key_usage (
  key_id String,
  last_used_at Int64
) ENGINE = ReplacingMergeTree(last_used_at)
ORDER BY key_id;
