import { AppError } from '@sensormesh/errors';
import { type Sql, sql } from '../sql.ts';
import type { Store } from '../store.ts';

/** IANA names only: letters, digits and _ + - /, as in "Asia/Shanghai" or "Etc/GMT-8". */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$';

const unknownZone = (tz: string) =>
  new AppError('VALIDATION_FAILED', `unknown time zone ${JSON.stringify(tz)}`, {
    details: [{ path: '/tz', message: 'expected an IANA time zone name such as Asia/Shanghai' }],
  });

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

function offsetFormat(tz: string): Intl.DateTimeFormat {
  let format = offsetFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' });
    offsetFormats.set(tz, format);
  }
  return format;
}

/** The zone's canonical IANA name ("utc" → "UTC"), or a 422 naming it. */
export function canonicalTimeZone(tz: string): string {
  if (!new RegExp(TIME_ZONE_PATTERN).test(tz)) throw unknownZone(tz);
  try {
    return offsetFormat(tz).resolvedOptions().timeZone;
  } catch {
    throw unknownZone(tz);
  }
}

/** The zone's UTC offset at `ms`, in minutes. */
export function offsetMinutes(tz: string, ms: number): number {
  const name = offsetFormat(tz)
    .formatToParts(new Date(ms))
    .find((part) => part.type === 'timeZoneName')?.value;
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '');
  if (!match) return 0; // "GMT" alone: UTC itself
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/**
 * True when the zone's offset is a whole number of hours throughout [from, to), so hourly rollup
 * buckets never straddle a local hour (false for Asia/Kolkata, +05:30). Offsets change at most a
 * few times a year, so one sample a day, plus both ends, sees every offset in the range.
 */
export function wholeHourOffsets(tz: string, from: number, to: number): boolean {
  const DAY = 86_400_000;
  for (let at = from; at < to + DAY; at += DAY) {
    if (offsetMinutes(tz, Math.min(at, to - 1)) % 60 !== 0) return false;
  }
  return true;
}

const engineZones = new WeakMap<Store, Map<string, Promise<void>>>();

/**
 * Checks that the engine knows the zone (its tz database may differ from the runtime's): a failed
 * probe is a 422, cached per store; any other failure (engine down) is rethrown and not cached.
 */
export function checkEngineTimeZone(store: Store, tz: string): Promise<void> {
  let known = engineZones.get(store);
  if (!known) {
    known = new Map();
    engineZones.set(store, known);
  }
  const cached = known.get(tz);
  if (cached) return cached;
  const probe = store.query(sql`SELECT toHour(toDateTime(0), ${tz}) AS h`).then(
    () => undefined,
    (error: unknown) => {
      if (/time ?zone/i.test(String((error as Error)?.message))) throw unknownZone(tz);
      known.delete(tz);
      throw error;
    },
  );
  known.set(tz, probe);
  return probe;
}

/** Seconds → DateTime in the zone, for the time functions below. */
const localTime = (t: Sql) => sql`toDateTime(intDiv(${t}, 1000))`;

/**
 * The start (epoch ms) of the bucket holding `t`. In UTC, multiples of the width since the epoch; in
 * another zone, multiples of the width since that zone's local midnight, so 1d buckets are local
 * days and 6h buckets start at 00, 06, 12 and 18 local time.
 */
export function bucketStart(t: Sql, width: number, tz: string): Sql {
  if (tz === 'UTC') return sql`intDiv(${t}, ${width}) * ${width}`;
  const day = sql`toInt64(toUInt32(toStartOfDay(${localTime(t)}, ${tz}))) * 1000`;
  return sql`(${day} + intDiv(${t} - ${day}, ${width}) * ${width})`;
}

/** Local hour of day (0–23) of `t`. */
export const localHour = (t: Sql, tz: string) => sql`toHour(${localTime(t)}, ${tz})`;
/** Local ISO day of week (1 = Monday … 7 = Sunday) of `t`. */
// Via the local date: toDayOfWeek's second argument is the zone on 18.16 but a week mode on newer engines.
export const localWeekday = (t: Sql, tz: string) => sql`toDayOfWeek(toDate(${localTime(t)}, ${tz}))`;
