-- Accounts and refresh tokens. ClickHouse has no UPDATE worth the name, so every change writes a
-- new row version and reads take the latest (FINAL): ReplacingMergeTree(version) keyed by id.
CREATE TABLE IF NOT EXISTS users (
  id String,
  email String,
  password_hash String,
  role String,
  status String,
  created_at Int64,
  updated_at Int64,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Only hashes are kept; a family is one login's chain of rotated tokens.
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash String,
  family_id String,
  user_id String,
  status String,
  issued_at Int64,
  expires_at Int64,
  replaced_by String,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY token_hash;
