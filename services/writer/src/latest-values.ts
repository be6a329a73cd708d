import type { ReadingRow } from '@sensormesh/store';
import type Redis from 'ioredis';

/** Hash of one sensor's latest values: field = metric, value = `{"v":<value>,"ts":<epoch ms>}`. */
export const latestKey = (sensorId: string) => `latest:sensor:${sensorId}`;
/** Sorted set of sensors scored by the ts of their newest reading (the dashboard's "last seen"). */
export const LATEST_INDEX = 'latest:sensors';

/** One metric's latest value as stored in Redis. */
export interface LatestValue {
  v: number;
  ts: number;
}

// Out-of-order batches are normal (retries, claims, several writers), so every field is replaced
// only by a strictly newer ts, and the index score only rises (ZADD GT). One script per chunk keeps
// the compare and the write atomic. KEYS[1] is the index, KEYS[k] (k ≥ 2) a sensor's hash; ARGV
// holds, per sensor k: its id, the number n of metrics, then n × (metric, ts, json).
const SCRIPT = `
local arg = 1
local changed = 0
for k = 2, #KEYS do
  local sensor, n = ARGV[arg], tonumber(ARGV[arg + 1])
  arg = arg + 2
  local newest
  for _ = 1, n do
    local metric, ts, json = ARGV[arg], tonumber(ARGV[arg + 1]), ARGV[arg + 2]
    arg = arg + 3
    local current = redis.call('HGET', KEYS[k], metric)
    if not current or cjson.decode(current).ts < ts then
      redis.call('HSET', KEYS[k], metric, json)
      changed = changed + 1
    end
    if not newest or ts > newest then newest = ts end
  end
  redis.call('ZADD', KEYS[1], 'GT', newest, sensor)
end
return changed
`;
const SCRIPT_SHA = new Bun.CryptoHasher('sha1').update(SCRIPT).digest('hex');
const SENSORS_PER_CALL = 500;

/** The newest row per sensor and metric; on equal ts the first wins, as in the store. */
function newestPerSensor(rows: readonly ReadingRow[]): Map<string, Map<string, ReadingRow>> {
  const sensors = new Map<string, Map<string, ReadingRow>>();
  let lastSensor: string | undefined;
  let metrics: Map<string, ReadingRow> | undefined;
  for (const row of rows) {
    // A reading's rows are adjacent: the sensor is looked up once per reading, not once per metric.
    if (row.sensorId !== lastSensor || !metrics) {
      lastSensor = row.sensorId;
      metrics = sensors.get(row.sensorId);
      if (!metrics) {
        metrics = new Map();
        sensors.set(row.sensorId, metrics);
      }
    }
    const seen = metrics.get(row.metric);
    if (!seen || row.ts > seen.ts) metrics.set(row.metric, row);
  }
  return sensors;
}

async function runScript(redis: Redis, keys: string[], args: (string | number)[]): Promise<number> {
  try {
    return Number(await redis.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args));
  } catch (error) {
    // First call on this server (or after SCRIPT FLUSH): send the script itself, which caches it.
    if (!String(error).includes('NOSCRIPT')) throw error;
    return Number(await redis.eval(SCRIPT, keys.length, ...keys, ...args));
  }
}

/** The latest value of every sensor and metric in Redis, for the realtime dashboard. */
export function latestValues(redis: Redis) {
  /** Records the batch's values where they are newer than what is kept; returns fields changed. */
  async function update(rows: readonly ReadingRow[]): Promise<number> {
    const sensors = [...newestPerSensor(rows)];
    let changed = 0;
    for (let start = 0; start < sensors.length; start += SENSORS_PER_CALL) {
      const keys = [LATEST_INDEX];
      const args: (string | number)[] = [];
      for (const [sensorId, metrics] of sensors.slice(start, start + SENSORS_PER_CALL)) {
        keys.push(latestKey(sensorId));
        args.push(sensorId, metrics.size);
        for (const row of metrics.values())
          args.push(row.metric, row.ts, JSON.stringify({ v: row.value, ts: row.ts } satisfies LatestValue));
      }
      changed += await runScript(redis, keys, args);
    }
    return changed;
  }

  /** One sensor's latest values by metric (empty when it never reported). */
  async function read(sensorId: string): Promise<Record<string, LatestValue>> {
    const fields = await redis.hgetall(latestKey(sensorId));
    const values: Record<string, LatestValue> = {};
    for (const [metric, json] of Object.entries(fields)) values[metric] = JSON.parse(json) as LatestValue;
    return values;
  }

  return { update, read };
}

/** What `latestValues` returns. */
export type LatestValues = ReturnType<typeof latestValues>;
