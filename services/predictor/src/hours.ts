import { type Delivery, type Reading, readings } from '@sensormesh/bus';
import { CHANNELS } from '@sensormesh/models';
import type Redis from 'ioredis';

const HOUR_MS = 3_600_000;
/** Closed hours' means stay in Redis this long: the window plus slack, for replicas that lack them. */
const KEEP_S = 80 * 3_600;
const ACK_CHUNK = 1_000;

/** Redis keys of the shared hourly state (see README, "Replicas"). */
export const OPEN_KEY = 'predictor:open';
export const openHourKey = (sensorId: string, hour: number) => `predictor:h:${sensorId}:${hour}`;
export const closedHourKey = (sensorId: string, hour: number) => `predictor:m:${sensorId}:${hour}`;

// Shared by both scripts: closes an open hour into its means (CHANNELS order, '' = no reading).
const CLOSE = `
local keep = tonumber(ARGV[1])
local nch = tonumber(ARGV[2])
local fields = {}
for i = 1, nch do fields[2 * i - 1] = ARGV[2 + i]; fields[2 * i] = '#' .. ARGV[2 + i] end
local due = {}
local function close(sensor, hour)
  local hkey = 'predictor:h:' .. sensor .. ':' .. hour
  local got = redis.call('HMGET', hkey, unpack(fields))
  local out = {}
  for i = 1, nch do
    local s = tonumber(got[2 * i - 1])
    local n = tonumber(got[2 * i])
    if s and n and n > 0 then out[i] = string.format('%.9g', s / n) else out[i] = '' end
  end
  local means = table.concat(out, ',')
  redis.call('SET', 'predictor:m:' .. sensor .. ':' .. hour, means, 'EX', keep)
  redis.call('DEL', hkey)
  due[#due + 1] = sensor
  due[#due + 1] = tostring(hour)
  due[#due + 1] = means
end
local p = 3 + nch
`;

/**
 * Folds a batch's hourly sums into the shared open hours and acks the batch's entries in the same
 * atomic step, so a reading counts exactly once even if this replica dies right after. A sensor's
 * reading in a later hour closes its open hour, which is returned as due: exactly one replica
 * sees each hour close. A reading of an hour already closed is left to the store (returned as late).
 * ARGV: keep, nch, channels…, group, nIds, ids…, then per (sensor, hour): sensor, hour, k, (metric, sum, count)×k.
 */
const FOLD = `${CLOSE}
local group = ARGV[p]
local nids = tonumber(ARGV[p + 1])
local idsAt = p + 2
p = idsAt + nids
local late = 0
while p <= #ARGV do
  local sensor = ARGV[p]
  local hour = tonumber(ARGV[p + 1])
  local k = tonumber(ARGV[p + 2])
  p = p + 3
  local open = redis.call('ZSCORE', KEYS[2], sensor)
  local fold = true
  if not open then
    -- An hour a sweep already closed stays closed: a straggler must not reopen it with itself alone.
    if redis.call('EXISTS', 'predictor:m:' .. sensor .. ':' .. hour) == 1 then
      fold = false
    else
      redis.call('ZADD', KEYS[2], hour, sensor)
    end
  else
    open = tonumber(open)
    if hour > open then
      close(sensor, open)
      redis.call('ZADD', KEYS[2], hour, sensor)
    elseif hour < open then
      fold = false
    end
  end
  if fold then
    local hkey = 'predictor:h:' .. sensor .. ':' .. hour
    for j = 0, k - 1 do
      redis.call('HINCRBYFLOAT', hkey, ARGV[p + 3 * j], ARGV[p + 3 * j + 1])
      redis.call('HINCRBY', hkey, '#' .. ARGV[p + 3 * j], ARGV[p + 3 * j + 2])
    end
    redis.call('EXPIRE', hkey, keep)
  else
    late = late + 1
  end
  p = p + 3 * k
end
local i = 0
while i < nids do
  local last = math.min(i + ${ACK_CHUNK}, nids)
  redis.call('XACK', KEYS[1], group, unpack(ARGV, idsAt + i, idsAt + last - 1))
  i = last
end
due[#due + 1] = tostring(late)
return due
`;

/** Closes every open hour at or before ARGV[p] (sensors that went quiet) and returns them as due. */
const SWEEP = `${CLOSE}
local cutoff = ARGV[p]
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, 10000)
for j = 1, #members, 2 do
  close(members[j], tonumber(members[j + 1]))
  redis.call('ZREM', KEYS[1], members[j])
end
return due
`;

/** An hour that just closed for a sensor: its means in CHANNELS order (NaN = no reading that hour). */
export interface DueHour {
  sensorId: string;
  hour: number;
  means: Float32Array;
}

/** Parses a closed hour's means as Redis holds them ("v,v,,v"). */
export function parseMeans(text: string): Float32Array {
  const parts = text.split(',');
  const out = new Float32Array(CHANNELS.length).fill(Number.NaN);
  for (let c = 0; c < CHANNELS.length; c++) {
    const part = parts[c];
    if (part !== undefined && part !== '') out[c] = Number(part);
  }
  return out;
}

function parseDue(reply: string[], count: number): DueHour[] {
  const due: DueHour[] = [];
  for (let i = 0; i + 2 < count; i += 3) {
    due.push({
      sensorId: reply[i] as string,
      hour: Number(reply[i + 1]),
      means: parseMeans(reply[i + 2] as string),
    });
  }
  return due;
}

const CHANNEL_INDEX = new Map(CHANNELS.map((name, index) => [name, index]));

/** The shared hourly state in Redis: fold readings in, sweep quiet sensors' hours out. */
export function sharedHours(redis: Redis, group: string) {
  const head = [String(KEEP_S), String(CHANNELS.length), ...CHANNELS];
  return {
    /** Folds readings (acking them atomically); returns the hours that closed and the late count. */
    async fold(messages: readonly Delivery<Reading>[]): Promise<{ due: DueHour[]; late: number }> {
      // Sums per sensor and hour, in hour order per sensor, so an earlier hour closes first.
      const sums = new Map<string, { sensorId: string; hour: number; sum: Float64Array; n: Int32Array }>();
      for (const { data } of messages) {
        const hour = Math.floor(data.ts / HOUR_MS);
        const key = `${data.sensorId}\u0000${hour}`;
        let entry = sums.get(key);
        for (const metric in data.metrics) {
          const c = CHANNEL_INDEX.get(metric);
          const value = data.metrics[metric] as number;
          if (c === undefined || !Number.isFinite(value)) continue;
          if (!entry) {
            entry = {
              sensorId: data.sensorId,
              hour,
              sum: new Float64Array(CHANNELS.length),
              n: new Int32Array(CHANNELS.length),
            };
            sums.set(key, entry);
          }
          entry.sum[c] = (entry.sum[c] as number) + value;
          entry.n[c] = (entry.n[c] as number) + 1;
        }
        // A reading with no model channel still closes the sensor's earlier hour.
        if (!entry) {
          entry = { sensorId: data.sensorId, hour, sum: new Float64Array(0), n: new Int32Array(0) };
          sums.set(key, entry);
        }
      }
      const entries = [...sums.values()].sort((a, b) =>
        a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : a.hour - b.hour,
      );
      const args: string[] = [...head, group, String(messages.length), ...messages.map((m) => m.id)];
      for (const entry of entries) {
        const at = args.length;
        args.push(entry.sensorId, String(entry.hour), '0');
        let k = 0;
        for (let c = 0; c < entry.n.length; c++) {
          if (entry.n[c] === 0) continue;
          args.push(CHANNELS[c] as string, String(entry.sum[c]), String(entry.n[c]));
          k++;
        }
        args[at + 2] = String(k);
      }
      const reply = (await redis.eval(FOLD, 2, readings.name, OPEN_KEY, ...args)) as string[];
      return { due: parseDue(reply, reply.length - 1), late: Number(reply.at(-1)) };
    },

    /** Closes the open hours that ended at least `graceMs` before `now`; returns them as due. */
    async sweep(now: number, graceMs: number): Promise<DueHour[]> {
      const cutoff = Math.floor((now - graceMs) / HOUR_MS) - 1;
      const reply = (await redis.eval(SWEEP, 1, OPEN_KEY, ...head, String(cutoff))) as string[];
      return parseDue(reply, reply.length);
    },

    /** Closed hours' means from Redis (those another replica closed), keyed `sensor\0hour`. */
    async closed(wanted: readonly { sensorId: string; hour: number }[]): Promise<Map<string, Float32Array>> {
      const found = new Map<string, Float32Array>();
      for (let i = 0; i < wanted.length; i += 5_000) {
        const chunk = wanted.slice(i, i + 5_000);
        const values = await redis.mget(...chunk.map((w) => closedHourKey(w.sensorId, w.hour)));
        values.forEach((value, j) => {
          const w = chunk[j] as { sensorId: string; hour: number };
          if (value !== null) found.set(`${w.sensorId}\u0000${w.hour}`, parseMeans(value));
        });
      }
      return found;
    },
  };
}

/** The shared hourly state. */
export type SharedHours = ReturnType<typeof sharedHours>;
