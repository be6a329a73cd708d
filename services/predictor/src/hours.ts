import { type Delivery, type Reading, readings } from '@sensormesh/bus';
import { CHANNELS } from '@sensormesh/models';
import type Redis from 'ioredis';

const HOUR_MS = 3_600_000;
const C = CHANNELS.length;
/** Hours stay in Redis this long: the window plus slack, for replicas that lack them. */
const KEEP_S = 80 * 3_600;
/** A list longer than this is summed into one entry in place, so closing an hour stays cheap. */
const COMPACT_AT = 16;
const ACK_CHUNK = 1_000;

/** Redis keys of the shared hourly state (see README, "Replicas"). */
export const OPEN_KEY = 'predictor:open';
/** Closed sensor-hours not yet scored ("<hour>:<sensor>", score = when another pass may retry them). */
export const DUE_KEY = 'predictor:due';
/** How often each due sensor-hour has been retried. */
export const ATTEMPTS_KEY = 'predictor:attempts';
export const openHourKey = (sensorId: string, hour: number) => `predictor:h:${sensorId}:${hour}`;
export const closedHourKey = (sensorId: string, hour: number) => `predictor:m:${sensorId}:${hour}`;

/*
 * An hour's data is a list of partial sums, each "sum,count" per channel in CHANNELS order (0,0 for
 * none), one per handler call that saw the sensor that hour. Appending is one RPUSH: arithmetic in
 * Lua (HINCRBYFLOAT per metric, or parse-add-format) cost 10× more Redis time per reading. Closing
 * renames the list to its closed key and returns it; the worker sums it in JS.
 */
const CLOSE = `
local keep = tonumber(ARGV[1])
local deadline = ARGV[2]
local due = {}
local function close(sensor, hour)
  local okey = 'predictor:h:' .. sensor .. ':' .. hour
  local ckey = 'predictor:m:' .. sensor .. ':' .. hour
  local parts = {}
  if redis.call('EXISTS', okey) == 1 then
    redis.call('RENAME', okey, ckey)
    redis.call('EXPIRE', ckey, keep)
    parts = redis.call('LRANGE', ckey, 0, -1)
  else
    redis.call('RPUSH', ckey, '')
    redis.call('EXPIRE', ckey, keep)
  end
  -- Due until a pass has published its outputs: a pass that fails (or a replica that dies) leaves it
  -- here for a later sweep to score again, without the readings being folded twice.
  redis.call('ZADD', '${DUE_KEY}', deadline, hour .. ':' .. sensor)
  due[#due + 1] = sensor
  due[#due + 1] = tostring(hour)
  due[#due + 1] = tostring(#parts)
  for i = 1, #parts do due[#due + 1] = parts[i] end
end
`;

/**
 * Appends a batch's partial sums to the sensors' open hours and acks the batch's entries in the
 * same atomic step, so a reading counts exactly once even if the replica dies right after. A
 * sensor's reading in a later hour closes its open hour, returned as due: exactly one replica sees
 * each hour close. A reading of an hour already closed is left to the store (counted as late).
 * ARGV: keep, retry deadline, group, nIds, ids…, then per (sensor, hour): sensor, hour, partial.
 */
const FOLD = `${CLOSE}
local group = ARGV[3]
local nids = tonumber(ARGV[4])
local idsAt = 5
local p = idsAt + nids
local n = #ARGV
local late = 0
while p <= n do
  local sensor = ARGV[p]
  local hour = tonumber(ARGV[p + 1])
  local partial = ARGV[p + 2]
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
    local okey = 'predictor:h:' .. sensor .. ':' .. hour
    local length = redis.call('RPUSH', okey, partial)
    if length == 1 then
      redis.call('EXPIRE', okey, keep)
    elseif length >= ${COMPACT_AT} then
      local total = {}
      for _, part in ipairs(redis.call('LRANGE', okey, 0, -1)) do
        local i = 1
        for v in string.gmatch(part, '[^,]+') do
          total[i] = (total[i] or 0) + tonumber(v)
          i = i + 1
        end
      end
      for i = 1, #total do total[i] = string.format('%.17g', total[i]) end
      redis.call('DEL', okey)
      redis.call('RPUSH', okey, table.concat(total, ','))
      redis.call('EXPIRE', okey, keep)
    end
  else
    late = late + 1
  end
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

/** Closes every open hour at or before ARGV[3] (sensors that went quiet) and returns them as due. */
const SWEEP = `${CLOSE}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'WITHSCORES', 'LIMIT', 0, 10000)
for j = 1, #members, 2 do
  close(members[j], tonumber(members[j + 1]))
  redis.call('ZREM', KEYS[1], members[j])
end
return due
`;

/**
 * Takes the due sensor-hours whose retry time has passed (their pass failed, or its replica died):
 * each gets a new retry time and one more attempt, and comes back with its hour's partial sums,
 * unless it has had ARGV[4] attempts or its sums expired, when it is given up.
 * ARGV: keep, retry deadline, now, max attempts. Returns { due as CLOSE's, given up members }.
 */
const RETRY = `
local keep = tonumber(ARGV[1])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, 1000)
local due = {}
local abandoned = {}
for _, member in ipairs(members) do
  local colon = string.find(member, ':', 1, true)
  local hour = string.sub(member, 1, colon - 1)
  local sensor = string.sub(member, colon + 1)
  local ckey = 'predictor:m:' .. sensor .. ':' .. hour
  local attempts = redis.call('HINCRBY', KEYS[2], member, 1)
  if attempts > tonumber(ARGV[4]) or redis.call('EXISTS', ckey) == 0 then
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
    abandoned[#abandoned + 1] = member
  else
    redis.call('ZADD', KEYS[1], ARGV[2], member)
    local parts = redis.call('LRANGE', ckey, 0, -1)
    due[#due + 1] = sensor
    due[#due + 1] = hour
    due[#due + 1] = tostring(#parts)
    for i = 1, #parts do due[#due + 1] = parts[i] end
  end
end
return { due, abandoned }
`;

const dueMember = (item: { sensorId: string; hour: number }) => `${item.hour}:${item.sensorId}`;

/** An hour that just closed for a sensor: its means in CHANNELS order (NaN = no reading that hour). */
export interface DueHour {
  sensorId: string;
  hour: number;
  means: Float32Array;
}

/** Means of an hour's partial sums ("sum,count" per channel); NaN where no reading. */
export function meansOf(parts: readonly string[]): Float32Array {
  const sum = new Float64Array(C);
  const count = new Float64Array(C);
  for (const part of parts) {
    if (part === '') continue;
    const fields = part.split(',');
    for (let c = 0; c < C; c++) {
      sum[c] = (sum[c] as number) + Number(fields[2 * c]);
      count[c] = (count[c] as number) + Number(fields[2 * c + 1]);
    }
  }
  const out = new Float32Array(C);
  for (let c = 0; c < C; c++)
    out[c] = (count[c] as number) > 0 ? (sum[c] as number) / (count[c] as number) : Number.NaN;
  return out;
}

function parseDue(reply: string[], end: number): DueHour[] {
  const due: DueHour[] = [];
  let i = 0;
  while (i < end) {
    const sensorId = reply[i] as string;
    const hour = Number(reply[i + 1]);
    const parts = Number(reply[i + 2]);
    due.push({ sensorId, hour, means: meansOf(reply.slice(i + 3, i + 3 + parts)) });
    i += 3 + parts;
  }
  return due;
}

const CHANNEL_INDEX = new Map(CHANNELS.map((name, index) => [name, index]));

/** The shared hourly state in Redis: fold readings in, sweep quiet sensors' hours out. */
export function sharedHours(redis: Redis, group: string) {
  const keep = String(KEEP_S);
  return {
    /**
     * Folds readings (acking them atomically); returns the hours that closed and the late count.
     * The closed hours stay due until `done`; from `retryAt` on, `retry` hands them out again.
     */
    async fold(
      messages: readonly Delivery<Reading>[],
      retryAt: number,
    ): Promise<{ due: DueHour[]; late: number }> {
      // Sums per sensor and hour, in hour order per sensor, so an earlier hour closes first.
      const sums = new Map<string, { sensorId: string; hour: number; sum: Float64Array; n: Int32Array }>();
      for (const { data } of messages) {
        const hour = Math.floor(data.ts / HOUR_MS);
        const key = `${data.sensorId}\u0000${hour}`;
        let entry = sums.get(key);
        if (!entry) {
          // A reading with no model channel still closes the sensor's earlier hour.
          entry = { sensorId: data.sensorId, hour, sum: new Float64Array(C), n: new Int32Array(C) };
          sums.set(key, entry);
        }
        for (const metric in data.metrics) {
          const c = CHANNEL_INDEX.get(metric);
          const value = data.metrics[metric] as number;
          if (c === undefined || !Number.isFinite(value)) continue;
          entry.sum[c] = (entry.sum[c] as number) + value;
          entry.n[c] = (entry.n[c] as number) + 1;
        }
      }
      const entries = [...sums.values()].sort((a, b) =>
        a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : a.hour - b.hour,
      );
      const args: string[] = [keep, String(retryAt), group, String(messages.length)];
      for (const m of messages) args.push(m.id);
      for (const entry of entries) {
        let partial = '';
        for (let c = 0; c < C; c++) partial += `${c ? ',' : ''}${entry.sum[c]},${entry.n[c]}`;
        args.push(entry.sensorId, String(entry.hour), partial);
      }
      const reply = (await redis.eval(FOLD, 2, readings.name, OPEN_KEY, ...args)) as string[];
      return { due: parseDue(reply, reply.length - 1), late: Number(reply.at(-1)) };
    },

    /** Closes the open hours that ended at least `graceMs` before `now`; returns them as due. */
    async sweep(now: number, graceMs: number, retryAt: number): Promise<DueHour[]> {
      const cutoff = Math.floor((now - graceMs) / HOUR_MS) - 1;
      const reply = (await redis.eval(SWEEP, 1, OPEN_KEY, keep, String(retryAt), String(cutoff))) as string[];
      return parseDue(reply, reply.length);
    },

    /** Due hours whose retry time is past (at most 1,000 per call), and those given up for good. */
    async retry(
      now: number,
      retryAt: number,
      maxAttempts: number,
    ): Promise<{ due: DueHour[]; abandoned: { sensorId: string; hour: number }[] }> {
      const [due, abandoned] = (await redis.eval(
        RETRY,
        2,
        DUE_KEY,
        ATTEMPTS_KEY,
        keep,
        String(retryAt),
        String(now),
        String(maxAttempts),
      )) as [string[], string[]];
      return {
        due: parseDue(due, due.length),
        abandoned: abandoned.map((member) => {
          const colon = member.indexOf(':');
          return { sensorId: member.slice(colon + 1), hour: Number(member.slice(0, colon)) };
        }),
      };
    },

    /** The hours' outputs are published: they are no longer due. */
    async done(items: readonly { sensorId: string; hour: number }[]): Promise<void> {
      for (let i = 0; i < items.length; i += 5_000) {
        const members = items.slice(i, i + 5_000).map(dueMember);
        const replies =
          (await redis
            .multi()
            .zrem(DUE_KEY, ...members)
            .hdel(ATTEMPTS_KEY, ...members)
            .exec()) ?? [];
        const failed = replies.find(([error]) => error);
        if (failed) throw failed[0];
      }
    },

    /** Closed hours' means from Redis (those another replica closed), keyed `sensor\0hour`. */
    async closed(wanted: readonly { sensorId: string; hour: number }[]): Promise<Map<string, Float32Array>> {
      const found = new Map<string, Float32Array>();
      for (let i = 0; i < wanted.length; i += 5_000) {
        const chunk = wanted.slice(i, i + 5_000);
        const pipeline = redis.pipeline();
        for (const w of chunk) pipeline.lrange(closedHourKey(w.sensorId, w.hour), 0, -1);
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([error, parts], j) => {
          const w = chunk[j] as { sensorId: string; hour: number };
          if (!error && Array.isArray(parts) && parts.length > 0) {
            found.set(`${w.sensorId}\u0000${w.hour}`, meansOf(parts as string[]));
          }
        });
      }
      return found;
    },
  };
}

/** The shared hourly state. */
export type SharedHours = ReturnType<typeof sharedHours>;
