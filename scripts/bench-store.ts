/**
 * Store throughput beside the raw clients, in one run: rows/s inserting batches of 10k readings
 * through insertReadings (validation, dedup lookup, TSV) versus the same rows sent straight through
 * @clickhouse/client or chDB. Loopback only; bounded to ROWS rows per measurement.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import {
  insertReadings,
  MIGRATIONS_DIR,
  migrate,
  openStore,
  type ReadingRow,
  type Store,
} from '@sensormesh/store';
import { startClickHouse } from '@sensormesh/testkit';
import { Session } from 'chdb';
import { writeReport } from './bench-report.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 300_000);
const BATCH = 10_000;
const ROUNDS = 3;
const METRICS = ['pm1', 'pm25', 'pm10', 'no2', 'so2', 'co', 'o3', 'temp', 'rh', 'pressure'];

function makeBatches(offsetMs: number): ReadingRow[][] {
  const rows: ReadingRow[] = [];
  const start = Date.UTC(2025, 0, 1) + offsetMs;
  for (let step = 0; rows.length < ROWS; step++) {
    for (let sensor = 0; sensor < 100 && rows.length < ROWS; sensor++) {
      for (const metric of METRICS) {
        rows.push({
          sensorId: `aq-${String(sensor).padStart(4, '0')}`,
          metric,
          ts: start + step * 10_000,
          value: Math.round(Math.abs(Math.sin(step + sensor)) * 5_000) / 10,
          receivedAt: start + step * 10_000 + 250,
          source: 'bench',
        });
      }
    }
  }
  const batches: ReadingRow[][] = [];
  for (let offset = 0; offset < rows.length; offset += BATCH)
    batches.push(rows.slice(offset, offset + BATCH));
  return batches;
}

/** What a developer would write without the store: join the fields, send TSV. */
function rawTsv(rows: readonly ReadingRow[]): string {
  return `${rows.map((r) => `${r.sensorId}\t${r.metric}\t${r.ts}\t${r.value}\t${r.receivedAt}\t${r.source}`).join('\n')}\n`;
}

const COLUMNS: [string, ...string[]] = ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'];

interface BackendRun {
  backend: string;
  version: string;
  rawRowsPerSecond: number[];
  storeRowsPerSecond: number[];
  ratios: number[];
}

async function freshStore(open: (database: string) => Promise<Store>, database: string): Promise<Store> {
  const store = await open(database);
  await migrate(store, MIGRATIONS_DIR);
  return store;
}

type Sender = (rows: ReadingRow[]) => Promise<unknown>;

/**
 * Raw and store insert the same batches into two fresh databases with the same schema, batch by
 * batch, alternating which goes first, so both see the same machine noise (merges, other tenants).
 */
async function pairedRound(raw: Sender, store: Sender): Promise<{ raw: number; store: number }> {
  const warmUp = makeBatches(-86_400_000)[0] ?? [];
  await raw(warmUp);
  await store(warmUp);
  const seconds = { raw: 0, store: 0 };
  const timed = async (side: 'raw' | 'store', send: Sender, batch: ReadingRow[]) => {
    const started = performance.now();
    await send(batch);
    seconds[side] += (performance.now() - started) / 1_000;
  };
  const batches = makeBatches(0);
  for (const [index, batch] of batches.entries()) {
    if (index % 2 === 0) {
      await timed('raw', raw, batch);
      await timed('store', store, batch);
    } else {
      await timed('store', store, batch);
      await timed('raw', raw, batch);
    }
  }
  const rows = batches.reduce((sum, batch) => sum + batch.length, 0);
  return { raw: rows / seconds.raw, store: rows / seconds.store };
}

async function benchBackend(
  backend: string,
  open: (database: string) => Promise<Store>,
  rawSender: (database: string) => Promise<{ send: Sender; close: () => Promise<void> }>,
): Promise<BackendRun> {
  const run: BackendRun = { backend, version: '', rawRowsPerSecond: [], storeRowsPerSecond: [], ratios: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const rawStore = await freshStore(open, `bench_raw_${round}`);
    const store = await freshStore(open, `bench_store_${round}`);
    run.version = await store.serverVersion();
    const raw = await rawSender(`bench_raw_${round}`);
    const result = await pairedRound(raw.send, insertReadings(store));
    run.rawRowsPerSecond.push(Math.round(result.raw));
    run.storeRowsPerSecond.push(Math.round(result.store));
    run.ratios.push(result.store / result.raw);
    await raw.close();
    await rawStore.close();
    await store.close();
  }
  return run;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const clickhouse = await startClickHouse();
const chdbDir = await mkdtemp(join(tmpdir(), 'sensormesh-bench-chdb-'));
try {
  const runs: BackendRun[] = [];
  runs.push(
    await benchBackend(
      'clickhouse-server',
      (database) => openStore({ clickhouseUrl: clickhouse.url, database }),
      async (database) => {
        const client = createClient({ url: clickhouse.url, database });
        return {
          send: (rows) =>
            client.insert({
              table: 'readings_raw',
              columns: COLUMNS,
              values: Readable.from([Buffer.from(rawTsv(rows))], { objectMode: false }),
              format: 'TabSeparated',
            }),
          close: () => client.close(),
        };
      },
    ),
  );
  runs.push(
    await benchBackend(
      'chdb',
      (database) => openStore({ chdbPath: chdbDir, database }),
      async (database) => {
        const session = new Session(chdbDir);
        session.query(`USE ${database}`);
        return {
          send: (rows) =>
            session.insert({
              table: 'readings_raw',
              columns: COLUMNS,
              values: Buffer.from(rawTsv(rows)),
              format: 'TSV',
            }),
          close: async () => session.close(),
        };
      },
    ),
  );

  const results = runs.map((run) => ({
    ...run,
    rawMedian: median(run.rawRowsPerSecond),
    storeMedian: median(run.storeRowsPerSecond),
    ratio: Number(median(run.ratios).toFixed(3)),
  }));
  console.log(
    `store bench: ${ROWS.toLocaleString()} rows per measurement, batches of ${BATCH.toLocaleString()}, median of ${ROUNDS} paired rounds`,
  );
  console.table(
    results.map((r) => ({
      backend: `${r.backend} ${r.version}`,
      'raw rows/s': r.rawMedian,
      'store rows/s': r.storeMedian,
      'store/raw': r.ratio,
    })),
  );
  const file = await writeReport('store', { rows: ROWS, batch: BATCH, rounds: ROUNDS, goal: 0.85, results });
  console.log(`report: ${file}`);
} finally {
  await clickhouse.stop();
  await rm(chdbDir, { recursive: true, force: true });
}
