import { streams as catalogue, MESSAGE_FIELD, type StreamDef } from '@sensormesh/bus';
import { type Store, tableStats } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { MonitoringSnapshot, StreamStats } from './model.ts';

/** What monitoring reads. */
export interface MonitoringDeps {
  redis: Redis;
  store: Store;
  /** The streams to report (default: the bus catalogue). */
  streams?: readonly StreamDef[];
}

const RATE_WINDOW_MS = 60_000;
// Entries read to measure a stream's rate: exact below this many a minute, extrapolated above.
const RATE_SAMPLE = 500;
// Newest dead letters read to split them by source; the dlq itself can hold far more.
const DLQ_SAMPLE = 1_000;
// A scrape reads a dozen gauges; they share one snapshot instead of asking Redis a dozen times.
const CACHE_MS = 1_000;

/** Turns Redis's flat [key, value, key, value…] replies into a record. */
function flat(reply: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  if (!Array.isArray(reply)) return record;
  for (let index = 0; index + 1 < reply.length; index += 2) record[String(reply[index])] = reply[index + 1];
  return record;
}

const num = (value: unknown): number | null =>
  value === null || value === undefined || Number.isNaN(Number(value)) ? null : Number(value);
const idMs = (id: string) => Number(id.split('-')[0]);

async function timed(check: () => Promise<boolean>): Promise<{ ok: boolean; latencyMs: number }> {
  const started = performance.now();
  const ok = await check().catch(() => false);
  return { ok, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
}

/** The operators' view of the platform: streams, groups, dead letters, ingest rates, tables, readiness. */
export function monitoringService(deps: MonitoringDeps) {
  const { redis, store } = deps;
  const defs = deps.streams ?? Object.values(catalogue);
  let cached: { at: number; snapshot: Promise<MonitoringSnapshot> } | undefined;

  /** Entries added in the last minute: counted exactly up to RATE_SAMPLE, else extrapolated from them. */
  async function ingestRate(name: string, now: number) {
    const newest = (await redis.xrevrange(
      name,
      '+',
      String(now - RATE_WINDOW_MS),
      'COUNT',
      RATE_SAMPLE + 1,
    )) as Array<[string, string[]]>;
    if (newest.length <= RATE_SAMPLE) {
      return { lastMinute: newest.length, perSecond: newest.length / (RATE_WINDOW_MS / 1_000), exact: true };
    }
    const oldest = newest[RATE_SAMPLE - 1] as [string, string[]];
    const perSecond = RATE_SAMPLE / (Math.max(1, now - idMs(oldest[0])) / 1_000);
    return { lastMinute: Math.round(perSecond * 60), perSecond, exact: false };
  }

  async function streamStats(def: StreamDef, now: number): Promise<StreamStats> {
    const length = await redis.xlen(def.name);
    const exists = (await redis.exists(def.name)) === 1;
    // The stream may vanish between EXISTS and XINFO (a DEL): report it as empty rather than fail.
    const info = exists ? flat(await redis.xinfo('STREAM', def.name).catch(() => [])) : {};
    const groups = exists
      ? ((await redis.xinfo('GROUPS', def.name).catch(() => [])) as unknown[]).map(flat)
      : [];
    const names = [...new Set([...def.groups, ...groups.map((group) => String(group.name))])];
    const lastId = typeof info['last-generated-id'] === 'string' ? info['last-generated-id'] : null;
    return {
      stream: def.name,
      length,
      entriesAdded: num(info['entries-added']),
      lastEntryAt: lastId && lastId !== '0-0' ? new Date(idMs(lastId)).toISOString() : null,
      ingest: await ingestRate(def.name, now),
      groups: names.map((name) => {
        const group = groups.find((candidate) => String(candidate.name) === name);
        return {
          group: name,
          declared: def.groups.includes(name),
          exists: group !== undefined,
          consumers: num(group?.consumers) ?? 0,
          pending: num(group?.pending) ?? 0,
          // Redis reports no lag when it cannot tell (entries deleted mid-stream); a missing group lags by everything.
          lag: group ? num(group.lag) : length,
          lastDeliveredId: group ? String(group['last-delivered-id']) : null,
        };
      }),
    };
  }

  async function deadLetters() {
    const dlq = defs.find((def) => def.name === 'dlq');
    if (!dlq) return { total: 0, sampled: 0, recentBySource: {} };
    const total = await redis.xlen(dlq.name);
    const recent = (await redis.xrevrange(dlq.name, '+', '-', 'COUNT', DLQ_SAMPLE)) as Array<
      [string, string[]]
    >;
    const bySource: Record<string, number> = {};
    for (const [, fields] of recent) {
      let source = 'unknown';
      try {
        const payload = JSON.parse(String(flat(fields)[MESSAGE_FIELD])) as { source?: unknown };
        if (typeof payload.source === 'string') source = payload.source;
      } catch {
        // A dead letter that is not even JSON still counts, under 'unknown'.
      }
      bySource[source] = (bySource[source] ?? 0) + 1;
    }
    return { total, sampled: recent.length, recentBySource: bySource };
  }

  async function build(): Promise<MonitoringSnapshot> {
    const now = Date.now();
    const [redisReady, storeReady] = await Promise.all([
      timed(async () => (await redis.ping()) === 'PONG'),
      timed(() => store.ping()),
    ]);
    const [streamList, dead, tables] = await Promise.all([
      redisReady.ok ? Promise.all(defs.map((def) => streamStats(def, now))) : Promise.resolve([]),
      redisReady.ok ? deadLetters() : Promise.resolve({ total: 0, sampled: 0, recentBySource: {} }),
      storeReady.ok ? tableStats(store)() : Promise.resolve([]),
    ]);
    return {
      at: new Date(now).toISOString(),
      ready: redisReady.ok && storeReady.ok,
      readiness: { redis: redisReady, store: storeReady },
      streams: streamList,
      deadLetters: dead,
      tables,
    };
  }

  /** A fresh snapshot (or the one taken within the last second, so a scrape reads Redis once). */
  function snapshot(options: { fresh?: boolean } = {}): Promise<MonitoringSnapshot> {
    const now = Date.now();
    if (options.fresh || !cached || now - cached.at > CACHE_MS) {
      const pending = build();
      cached = { at: now, snapshot: pending };
      // A failed snapshot is not kept: the next caller tries again.
      pending.catch(() => {
        if (cached?.snapshot === pending) cached = undefined;
      });
    }
    return cached.snapshot;
  }

  return { snapshot };
}

/** The monitoring service. */
export type MonitoringService = ReturnType<typeof monitoringService>;
