import { type Logger, silentLogger } from '@sensormesh/log';
import type Redis from 'ioredis';
import type { StreamDef } from './catalogue.ts';
import { parseFlatRecord, parsePendingSummary } from './replies.ts';
import { minId, nextId } from './stream-id.ts';

/**
 * One atomic trim step (a script, so no XADD can slip in between counting and trimming):
 * by age up to ARGV[2] (already capped at the safe point), then by length, looking at no more than
 * ARGV[4] entries from the front so a huge backlog never blocks Redis in one go. The front chunk is
 * cut by MAXLEN when all of it lies before the safe point ARGV[1] ('+' = no group), else by MINID.
 * Returns { removed, more } where more = 1 when another step is needed to reach maxLen.
 */
const TRIM_STEP = `
local function lessNum(a, b) if #a ~= #b then return #a < #b end return a < b end
local function less(a, b)
  local da, db = string.find(a, '-', 1, true), string.find(b, '-', 1, true)
  local ma, mb = string.sub(a, 1, da - 1), string.sub(b, 1, db - 1)
  if ma ~= mb then return lessNum(ma, mb) end
  return lessNum(string.sub(a, da + 1), string.sub(b, db + 1))
end
local removed, more = 0, 0
if ARGV[2] ~= '' then removed = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2]) end
if ARGV[3] ~= '' then
  local len = redis.call('XLEN', KEYS[1])
  local excess = len - tonumber(ARGV[3])
  if excess > 0 then
    local n = math.min(excess, tonumber(ARGV[4]))
    local front = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', n)
    if ARGV[1] == '+' or less(front[#front][1], ARGV[1]) then
      removed = removed + redis.call('XTRIM', KEYS[1], 'MAXLEN', len - n)
      if excess > n then more = 1 end
    else
      removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
    end
  end
end
return { removed, more }
`;

/** Entries a trim step examines from the front, and steps per trimStream call (1M entries). */
const STEP_ENTRIES = 10_000;
const MAX_STEPS = 100;

/**
 * The smallest id some group still needs: the first it has not been delivered, or its oldest
 * pending entry. Null when a catalogue group does not exist yet (it would read from the start).
 */
export async function safeTrimPoint(redis: Redis, def: StreamDef): Promise<string | null> {
  const groups = ((await redis.xinfo('GROUPS', def.name)) as unknown[]).map(parseFlatRecord);
  const names = new Set(groups.map((group) => String(group.name)));
  if (def.groups.some((group) => !names.has(group))) return null;
  let safe: string | undefined;
  for (const group of groups) {
    let point = nextId(String(group['last-delivered-id']));
    if (Number(group.pending) > 0) {
      const { smallest } = parsePendingSummary(await redis.xpending(def.name, String(group.name)));
      if (smallest) point = minId(point, smallest);
    }
    safe = safe === undefined ? point : minId(safe, point);
  }
  // No group at all (the dlq): only the policy limits the trim.
  return safe ?? '+';
}

/** Trims `def`'s stream per its trim policy, never past what every group delivered and acked; returns entries removed. */
export async function trimStream(
  redis: Redis,
  def: StreamDef,
  { stepEntries = STEP_ENTRIES }: { stepEntries?: number } = {},
): Promise<number> {
  const { maxAgeMs, maxLen } = def.trim;
  if (maxAgeMs === undefined && maxLen === undefined) return 0;
  if ((await redis.exists(def.name)) === 0) return 0;
  const safe = await safeTrimPoint(redis, def);
  if (safe === null || safe === '0-1') return 0;
  const unbounded = safe === '+';
  const agePoint = maxAgeMs === undefined ? '' : `${Math.max(0, Date.now() - maxAgeMs)}-0`;
  let ageTarget = agePoint === '' || unbounded ? agePoint : minId(agePoint, safe);
  const lengthLimit = maxLen === undefined ? '' : String(maxLen);
  let removed = 0;
  for (let step = 0; step < MAX_STEPS; step++) {
    const reply = await redis.eval(TRIM_STEP, 1, def.name, safe, ageTarget, lengthLimit, stepEntries);
    const [count, more] = reply as [number, number];
    removed += Number(count);
    ageTarget = ''; // done in the first step
    if (Number(more) !== 1) break;
  }
  return removed;
}

/** Trims `defs` every `intervalMs` (one pass at a time); the returned function stops it and awaits a running pass. */
export function startTrimmer(
  redis: Redis,
  defs: readonly StreamDef[],
  intervalMs: number,
  logger: Logger = silentLogger(),
): () => Promise<void> {
  const log = logger.child({ component: 'bus-trimmer' });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pass: Promise<void> = Promise.resolve();

  async function trimAll(): Promise<void> {
    for (const def of defs) {
      try {
        const removed = await trimStream(redis, def);
        if (removed > 0) log.info({ stream: def.name, removed }, 'stream trimmed');
      } catch (error) {
        log.error({ stream: def.name, err: error }, 'trim failed');
      }
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(function runTrimPass() {
      pass = trimAll().finally(schedule);
    }, intervalMs);
  }

  schedule();
  return async function stopTrimmer(): Promise<void> {
    stopped = true;
    clearTimeout(timer);
    await pass;
  };
}
