import { MESSAGE_FIELD, type StreamDef } from '@sensormesh/bus';

/** A stream entry decoded for the fan-out: the event, and its JSON as stored (reused in frames). */
export interface DecodedEntry {
  event: unknown;
  raw: string;
}

/**
 * Decodes and checks an entry against its stream's schema; undefined for an entry that fails
 * (its producer validated it, so this is a bug elsewhere: it is counted and skipped, never sent).
 */
export function decodeEntry(def: StreamDef, fields: readonly string[] | null): DecodedEntry | undefined {
  if (!fields) return undefined;
  let raw: string | undefined;
  if (fields[0] === MESSAGE_FIELD) raw = fields[1];
  else for (let i = 2; i < fields.length; i += 2) if (fields[i] === MESSAGE_FIELD) raw = fields[i + 1];
  if (raw === undefined) return undefined;
  try {
    const event: unknown = JSON.parse(raw);
    return def.check.Check(event) ? { event, raw } : undefined;
  } catch {
    return undefined;
  }
}

const MAX_SEQ = (1n << 64n) - 1n;

function parts(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** The smallest id after `id`. */
export function nextId(id: string): string {
  const [ms, seq] = parts(id);
  return seq === MAX_SEQ ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/** The largest id before `id` ("0-0" has none and stays), as an exclusive cursor for what follows. */
export function prevId(id: string): string {
  const [ms, seq] = parts(id);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_SEQ}` : '0-0';
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * An id's two parts as numbers for SQL. Real sequence numbers stay far below 2^53; the only larger
 * one is prevId's "<ms>-<2^64-1>", which clamps to 2^53-1 and still means "after every entry of ms".
 */
export function splitId(id: string): [number, number] {
  const [ms, seq] = parts(id);
  return [Number(ms), Number(seq > SAFE ? SAFE : seq)];
}
