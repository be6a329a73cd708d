import type { ExportProgress } from '@sensormesh/bus';
import { insertReadings, type ReadingRow, type Store, sql } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { TestGateway } from '../../test-support/gateway.ts';

export { professional } from '../orders/test-helpers.ts';

export const T0 = Date.UTC(2024, 0, 1);
export const MINUTE = 60_000;

/** Deterministic readings: `sensors` × `metrics` × `steps` one minute apart, with awkward sources. */
export function readingRows(sensors: number, metrics: readonly string[], steps: number): ReadingRow[] {
  const rows: ReadingRow[] = [];
  for (let s = 0; s < sensors; s++) {
    for (const [m, metric] of metrics.entries()) {
      for (let step = 0; step < steps; step++) {
        rows.push({
          sensorId: `sensor-${s}`,
          metric,
          ts: T0 + step * MINUTE,
          value: Math.round(((s + 1) * (m + 1) * step) % 997) / 8 - 3.125,
          receivedAt: T0 + step * MINUTE + 1_234,
          // Commas, quotes and a unicode sign: CSV quoting and JSON escaping both get exercised.
          source: step % 3 === 0 ? 'http' : step % 3 === 1 ? 'mqtt "gw, 1"' : 'adapter:µ',
        });
      }
    }
  }
  return rows;
}

/** Stores readings the way the writer does. */
export async function seed(store: Store, rows: ReadingRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += 20_000) {
    await insertReadings(store)(rows.slice(start, start + 20_000));
  }
}

/** The stored rows of readings_raw in export order, as the store reads them. */
export async function storedRows(store: Store, where = sql`1`) {
  return store.query<{
    sensor_id: string;
    metric: string;
    ts: number;
    value: number;
    received_at: number;
    source: string;
  }>(sql`SELECT sensor_id, metric, ts, value, received_at, source FROM readings_raw WHERE ${where}
    ORDER BY sensor_id, metric, ts`);
}

/** Sends a request and returns the raw Response (bodies may be binary). */
export function send(
  gw: TestGateway,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return gw.app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    }),
  );
}

/** RFC 4180 CSV into rows of fields (quoted fields may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

/** The newest entry id of `export-progress` ('0-0' when empty): wait for events after it. */
export async function progressCursor(redis: Redis): Promise<string> {
  const [newest] = (await redis.xrevrange('export-progress', '+', '-', 'COUNT', 1)) as [string, string[]][];
  return newest?.[0] ?? '0-0';
}

/**
 * Reads `export-progress` from `after` until an event for `jobId` satisfies `done`; awaits the
 * stream (XREAD BLOCK), never sleeps. Resolves with every event of the job seen, in order.
 */
export async function waitForJob(
  redis: Redis,
  jobId: string,
  done: (event: ExportProgress) => boolean,
  after = '0-0',
  timeoutMs = 30_000,
): Promise<ExportProgress[]> {
  const reader = redis.duplicate();
  const seen: ExportProgress[] = [];
  const deadline = Date.now() + timeoutMs;
  let cursor = after;
  try {
    while (Date.now() < deadline) {
      const reply = (await reader.xread(
        'COUNT',
        100,
        'BLOCK',
        1_000,
        'STREAMS',
        'export-progress',
        cursor,
      )) as [string, [string, string[]][]][] | null;
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        cursor = id;
        const event = JSON.parse(fields[1] ?? '{}') as ExportProgress;
        if (event.jobId !== jobId) continue;
        seen.push(event);
        if (done(event)) return seen;
      }
    }
    throw new Error(`job ${jobId}: no matching event in ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
  } finally {
    reader.disconnect();
  }
}
