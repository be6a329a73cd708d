// Shapes of the RESP2 replies the bus reads; ioredis types most stream replies as unknown[].

/** A stream entry as Redis returns it; `fields` is null when the entry was deleted. */
export interface RawEntry {
  id: string;
  fields: string[] | null;
}

/** One row of XPENDING's extended form. */
export interface PendingRow {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** Parses a list of [id, [field, value, ...]] entries. */
export function parseEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((entry: [string, string[] | null]) => ({ id: entry[0], fields: entry[1] }));
}

/** Parses XREADGROUP's reply for a single stream. */
export function parseReadGroup(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  return parseEntries((reply[0] as [string, unknown])[1]);
}

/** Parses XAUTOCLAIM's reply (Redis 7: next cursor, claimed entries, ids that no longer exist). */
export function parseAutoClaim(reply: unknown): { next: string; entries: RawEntry[]; deleted: string[] } {
  const [next, entries, deleted] = reply as [string, unknown, string[] | undefined];
  return { next, entries: parseEntries(entries), deleted: deleted ?? [] };
}

/** Parses XPENDING's extended form. */
export function parsePendingRows(reply: unknown): PendingRow[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((row: [string, string, number, number]) => ({
    id: row[0],
    consumer: row[1],
    idleMs: Number(row[2]),
    deliveries: Number(row[3]),
  }));
}

/** Parses XPENDING's summary form: how many entries are pending and the smallest pending id. */
export function parsePendingSummary(reply: unknown): { count: number; smallest: string | null } {
  const [count, smallest] = reply as [number, string | null];
  return { count: Number(count), smallest: smallest ?? null };
}

/** Parses a flat [key, value, key, value, ...] array (XINFO replies) into a record. */
export function parseFlatRecord(reply: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  if (!Array.isArray(reply)) return record;
  for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
  return record;
}
