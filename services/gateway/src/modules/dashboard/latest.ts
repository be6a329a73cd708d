import type Redis from 'ioredis';

// The writer's latest-value layout (services/writer/README.md, "Latest values in Redis"). Services
// do not import each other, so the two key names are restated here; tests/dashboard-realtime.test.ts
// runs the real writer into the real Redis and reads it through this module, so a drift fails there.
const latestKey = (sensorId: string) => `latest:sensor:${sensorId}`;

/** One metric's latest value as the writer stores it. */
export interface LatestValue {
  v: number;
  ts: number;
}

/** A sensor's latest values by metric, and the ts of its newest one (`null`: never reported). */
export interface SensorLatestValues {
  values: Record<string, LatestValue>;
  lastSeen: number | null;
}

function parse(fields: Record<string, string>): SensorLatestValues {
  const values: Record<string, LatestValue> = {};
  let lastSeen: number | null = null;
  for (const [metric, json] of Object.entries(fields)) {
    let value: LatestValue;
    try {
      value = JSON.parse(json) as LatestValue;
    } catch {
      continue; // a field not written by the writer is not ours to show
    }
    if (typeof value?.v !== 'number' || typeof value.ts !== 'number') continue;
    values[metric] = value;
    if (lastSeen === null || value.ts > lastSeen) lastSeen = value.ts;
  }
  return { values, lastSeen };
}

/** Reads the latest values of many sensors in one pipelined round trip. */
export async function readLatest(
  redis: Redis,
  sensorIds: readonly string[],
): Promise<Map<string, SensorLatestValues>> {
  const result = new Map<string, SensorLatestValues>();
  if (sensorIds.length === 0) return result;
  const pipeline = redis.pipeline();
  for (const id of sensorIds) pipeline.hgetall(latestKey(id));
  const replies = (await pipeline.exec()) ?? [];
  sensorIds.forEach((id, index) => {
    const [error, fields] = replies[index] ?? [new Error('no reply'), null];
    if (error) throw error;
    result.set(id, parse((fields ?? {}) as Record<string, string>));
  });
  return result;
}
