import type { SentThrough } from '@sensormesh/store';
import type Redis from 'ioredis';

/** Hash of the writer's marks: field = sensor id, value = the newest ts sent to the store for it. */
export const SENT_THROUGH_KEY = 'writer:sent-through';

// Raise and read in one step, so two writers cannot both read an old mark and both skip the lookup
// of the same new reading. ARGV: sensor, ts pairs; the reply holds each sensor's mark before ('' for
// none). Epoch ms fit a Lua number (a double) exactly.
const RAISE = `
local before = {}
for i = 1, #ARGV, 2 do
  local mark = redis.call('HGET', KEYS[1], ARGV[i])
  before[#before + 1] = mark or ''
  if not mark or tonumber(ARGV[i + 1]) > tonumber(mark) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return before
`;

/** Sensors per script call: bounded argument lists for batches of any size. */
const CHUNK = 5_000;

/** The store's "sent through" marks kept in Redis (see SentThrough in @sensormesh/store). */
export function sentThrough(redis: Redis): SentThrough {
  return {
    async raise(newest) {
      const entries = [...newest];
      const before = new Map<string, number>();
      for (let i = 0; i < entries.length; i += CHUNK) {
        const chunk = entries.slice(i, i + CHUNK);
        const args: string[] = [];
        for (const [sensorId, ts] of chunk) args.push(sensorId, String(ts));
        const reply = (await redis.eval(RAISE, 1, SENT_THROUGH_KEY, ...args)) as string[];
        chunk.forEach(([sensorId], k) => {
          const mark = reply[k];
          if (mark) before.set(sensorId, Number(mark));
        });
      }
      return before;
    },
  };
}
