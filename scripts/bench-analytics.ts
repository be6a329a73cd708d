/**
 * `scripts/bench analytics`: analytics latency over 100 million readings (1,000 sensors × 5
 * metrics × 20,000 timestamps, one every ~2 minutes for 30 days), on chDB and on a clickhouse-server
 * started by the testkit, through the store's query functions the API calls:
 *   - a 30-day hourly timeseries of one sensor (5 metrics × 720 buckets; goal p95 < 100 ms),
 *   - a 1-day summary of every sensor (5,000 series; goal p95 < 500 ms).
 * Readings are generated inside each engine with INSERT … SELECT from numbers, in slices, so the
 * materialized views fill the rollups as they would from the writer. Then export throughput
 * (scripts/lib/bench-export.ts) in a child process. Loopback only; data in temp dirs, removed after.
 *
 * Options: --rows N (default 100,000,000; the timeline stays 30 days), --rounds N (timed queries per
 * case, default 40), --backends chdb,clickhouse-server, --export-rows 1000000,10000000 | none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  getSeriesStats,
  getTimeseries,
  MIGRATIONS_DIR,
  migrate,
  openStore,
  type Store,
  sql,
  tableStats,
} from '@sensormesh/store';
import { startClickHouse } from '@sensormesh/testkit';
import { writeReport } from './bench-report.ts';
import { cpuSeconds, findPid } from './lib/cpu.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000000' },
    rounds: { type: 'string', default: '40' },
    backends: { type: 'string', default: 'chdb,clickhouse-server' },
    'export-rows': { type: 'string', default: '1000000,10000000' },
  },
});
const ROWS = Number(args.rows);
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(ROWS) || ROWS < 5_000 || ROWS > 200_000_000)
  throw new Error('--rows: 5,000 … 200,000,000');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 1_000) throw new Error('--rounds: 1 … 1,000');

const SENSORS = 1_000;
const METRICS = ['pm25', 'pm10', 'no2', 'temp', 'rh'];
const SERIES = SENSORS * METRICS.length;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const STEPS = Math.ceil(ROWS / SERIES);
const CADENCE_MS = Math.floor((30 * DAY) / STEPS);
// Slices short enough for the server client's 60 s request timeout even on a busy machine.
const SLICE = 2_000_000;
const GOALS_MS = { sensorMonthHourly: 100, allSensorsDay: 500 };
const sensorId = (index: number) => `bench-${10_000 + index}`;

/**
 * Readings n = 0 … ROWS−1 in time order (every series at one timestamp, then the next), values a
 * daily cycle plus deterministic noise, so the rollups hold realistic t-digest states.
 */
async function load(
  store: Store,
  log: (line: string) => void,
): Promise<{ seconds: number; rowsPerSecond: number }> {
  const started = performance.now();
  for (let start = 0; start < ROWS; start += SLICE) {
    const count = Math.min(SLICE, ROWS - start);
    await store.command(sql`INSERT INTO readings_raw (sensor_id, metric, ts, value, received_at, source)
      SELECT concat('bench-', toString(10000 + intDiv(n % ${SERIES}, ${METRICS.length}))),
        ${METRICS}[(n % ${METRICS.length}) + 1],
        ${T0} + intDiv(n, ${SERIES}) * ${CADENCE_MS} AS t,
        round([35, 60, 40, 5, 55][(n % ${METRICS.length}) + 1]
          + [25, 40, 20, 6, 20][(n % ${METRICS.length}) + 1] * sin(t / 13750987.08)
          + (cityHash64(n) % 1000) / 100, 2),
        t + 500,
        'bench'
      FROM (SELECT number + ${start} AS n FROM system.numbers LIMIT ${count})`);
    const done = start + count;
    const seconds = (performance.now() - started) / 1_000;
    log(`  ${done.toLocaleString()} rows, ${Math.round(done / seconds).toLocaleString()} rows/s`);
  }
  const seconds = (performance.now() - started) / 1_000;
  return { seconds: Math.round(seconds * 10) / 10, rowsPerSecond: Math.round(ROWS / seconds) };
}

/** Waits (bounded) for background merges, so they do not run under the timed queries. */
async function settle(store: Store, maxMs: number): Promise<{ waitedS: number; mergesLeft: number }> {
  const started = performance.now();
  let left = 0;
  do {
    const [row] = await store.query<{ n: number }>(
      sql`SELECT count() AS n FROM system.merges WHERE database = ${store.database}`,
    );
    left = Number(row?.n ?? 0);
    if (left === 0) break;
    await Bun.sleep(2_000);
  } while (performance.now() - started < maxMs);
  return { waitedS: Math.round((performance.now() - started) / 100) / 10, mergesLeft: left };
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;

interface Timing {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  meanCpuMs: number;
  goalP95Ms: number;
  met: boolean;
  rows: number;
}

/** Runs `query(i)` 3 times untimed, then ROUNDS times timed; CPU from the engine's process. */
async function measure(
  query: (round: number) => Promise<number>,
  engineCpu: () => number,
  goal: number,
): Promise<Timing> {
  for (let round = 0; round < 3; round++) await query(round + 1_000);
  const times: number[] = [];
  let rows = 0;
  const cpuBefore = engineCpu();
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    rows = await query(round);
    times.push(performance.now() - started);
  }
  const cpu = engineCpu() - cpuBefore;
  times.sort((a, b) => a - b);
  const p95 = percentile(times, 0.95);
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    p50Ms: round1(percentile(times, 0.5)),
    p95Ms: round1(p95),
    maxMs: round1(times.at(-1) ?? Number.NaN),
    meanCpuMs: round1((cpu * 1_000) / ROUNDS),
    goalP95Ms: goal,
    met: p95 < goal,
    rows,
  };
}

async function benchBackend(
  name: string,
  store: Store,
  engineCpu: () => number,
  log: (line: string) => void,
) {
  await migrate(store, MIGRATIONS_DIR);
  const version = await store.serverVersion();
  log(
    `${name} ${version}: loading ${ROWS.toLocaleString()} readings (${SENSORS} sensors × ${METRICS.length} metrics, every ${CADENCE_MS / 1_000} s for 30 days)…`,
  );
  const loaded = await load(store, log);
  const settled = await settle(store, 180_000);
  log(`  merges: waited ${settled.waitedS} s, ${settled.mergesLeft} still running`);
  const timeseries = getTimeseries(store);
  const stats = getSeriesStats(store);
  let seed = 7;
  const pick = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const sensorMonthHourly = await measure(
    async () => {
      const result = await timeseries({
        sensorIds: [sensorId(pick(SENSORS))],
        metrics: METRICS,
        from: T0,
        to: T0 + 30 * DAY,
        bucket: '1h',
      });
      return result.series.reduce((sum, series) => sum + series.points.length, 0);
    },
    engineCpu,
    GOALS_MS.sensorMonthHourly,
  );
  log(
    `  30-day hourly, one sensor (${sensorMonthHourly.rows} points): p50 ${sensorMonthHourly.p50Ms} ms, p95 ${sensorMonthHourly.p95Ms} ms, engine CPU ${sensorMonthHourly.meanCpuMs} ms/query`,
  );
  const allSensorsDay = await measure(
    async () => {
      const day = T0 + (1 + pick(28)) * DAY;
      const result = await stats({ from: day, to: day + DAY, limit: 10_000, offset: 0 });
      return result.items.length;
    },
    engineCpu,
    GOALS_MS.allSensorsDay,
  );
  log(
    `  1-day summary, all sensors (${allSensorsDay.rows} series): p50 ${allSensorsDay.p50Ms} ms, p95 ${allSensorsDay.p95Ms} ms, engine CPU ${allSensorsDay.meanCpuMs} ms/query`,
  );
  const tables = (await tableStats(store)()).filter((table) => table.table.startsWith('readings'));
  return { backend: name, version, load: loaded, merges: settled, tables, sensorMonthHourly, allSensorsDay };
}

/** Export throughput in a child process: chDB allows one data directory per process. */
async function exportFigures(log: (line: string) => void): Promise<unknown> {
  const script = join(import.meta.dir, 'lib', 'bench-export.ts');
  if (args['export-rows'] === 'none') return { skipped: '--export-rows none' };
  if (!(await Bun.file(script).exists())) return { skipped: 'scripts/lib/bench-export.ts not found' };
  const rows = (args['export-rows'] ?? '').split(',').map(Number);
  const child = Bun.spawn(
    [
      'bun',
      '-e',
      `const { benchExport } = await import(${JSON.stringify(script)});
       const report = await benchExport({ rows: ${JSON.stringify(rows)}, log: (line) => console.error(line) });
       console.log(JSON.stringify(report));`,
    ],
    { stdout: 'pipe', stderr: 'inherit' },
  );
  const output = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) return { failed: `export bench exited with ${child.exitCode}` };
  const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
  log(
    `export: ${JSON.stringify(report.rssGrowthMiB)} MiB RSS growth from the smallest to the largest export`,
  );
  return report;
}

const log = (line: string) => console.log(line);
const backends = (args.backends ?? '').split(',');
const runs = [];
if (backends.includes('chdb')) {
  const dir = await mkdtemp(join(tmpdir(), 'sensormesh-bench-analytics-'));
  try {
    const store = await openStore({ chdbPath: dir, database: 'bench' });
    const self = () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    };
    runs.push(await benchBackend('chdb', store, self, log));
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
if (backends.includes('clickhouse-server')) {
  const server = await startClickHouse();
  try {
    const store = await openStore({ clickhouseUrl: server.url, database: 'bench' });
    const pid = findPid(server.dir);
    runs.push(await benchBackend('clickhouse-server', store, () => (pid ? cpuSeconds(pid) : 0), log));
    await store.close();
  } finally {
    await server.stop();
  }
}
const exported = await exportFigures(log);
const file = await writeReport('analytics', {
  rows: ROWS,
  sensors: SENSORS,
  metrics: METRICS,
  cadenceMs: CADENCE_MS,
  rounds: ROUNDS,
  goalsP95Ms: GOALS_MS,
  runs,
  export: exported,
});
log(`written: ${file}`);
