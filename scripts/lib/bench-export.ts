/**
 * Export throughput and memory: rows/s, CPU seconds and peak RSS of the export job path
 * (engine stream → encoder → file, services/gateway/src/modules/export/runner.ts) for 1M and 10M
 * readings, as CSV and Parquet on chDB and as CSV on the ClickHouse server. Each case runs in a
 * child process of its own, so its peak RSS (VmHWM) is its own; RSS at 1M beside 10M shows whether
 * memory grows with the row count. Loopback only; bounded by the row counts.
 *
 * `benchExport()` is what `scripts/bench analytics` calls; `bun scripts/lib/bench-export.ts` (or
 * `scripts/bench export`) runs it alone and writes bench/results/export-*.json.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExportQuery, MIGRATIONS_DIR, migrate, openStore, type Store, sql } from '@sensormesh/store';
import { startClickHouse } from '@sensormesh/testkit';
import type { ExportPlan } from '../../services/gateway/src/modules/export/plan.ts';
import { writeExportFile } from '../../services/gateway/src/modules/export/runner.ts';

const SENSORS = 1_000;
const METRICS = ['pm25', 'pm10', 'no2', 'temp', 'rh'];
const T0 = Date.UTC(2025, 0, 1);
const STEP_MS = 60_000;
const GOAL_ROWS_PER_S = 500_000;

type Backend = 'chdb' | 'clickhouse-server';
type Format = 'csv' | 'parquet';

/** One measured export. */
export interface ExportCase {
  backend: Backend;
  format: Format;
  /**
   * `default`, or `decay-0`: chDB's jemalloc told to return freed pages at once
   * (JE_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0). By default it keeps them about 10 s, so
   * RSS then shows throughput × 10 s of churn on top of the working set.
   */
  allocator: 'default' | 'decay-0';
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  /** CPU seconds of the exporting process (chDB's engine threads included; the server's not). */
  cpuSeconds: number;
  rowsPerCpuSecond: number;
  /** RSS after the store opened, before the export. */
  baselineRssMiB: number;
  /** Highest RSS sampled every 20 ms during the export. */
  peakRssMiB: number;
  /** The process's high-water mark (VmHWM), start-up included. */
  vmHwmMiB: number;
  /** RSS when each tenth of the rows was written: flat when memory does not grow with rows. */
  rssByTenthMiB: number[];
}

/** What the bench reports. */
export interface ExportBenchReport {
  rows: number[];
  goalRowsPerSecond: number;
  cases: ExportCase[];
  /** Per backend and format: peak RSS at the largest row count minus at the smallest. */
  rssGrowthMiB: Record<string, number>;
}

const MiB = 1_048_576;

function vmHwmMiB(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1_024;
}

/** The plan of an export of the first `rows` readings (whole minutes of every series). */
function planFor(format: Format, rows: number): ExportPlan {
  const steps = Math.ceil(rows / (SENSORS * METRICS.length));
  const query: ExportQuery = {
    from: T0,
    to: T0 + steps * STEP_MS,
    timeZone: 'UTC',
    layout: 'long',
    columns: ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'],
  };
  return { format, query, columns: [...query.columns], estimatedRows: rows };
}

/** Fills readings_raw with `rows` readings (1,000 sensors × 5 metrics × minutes) inside the engine. */
export async function loadReadings(store: Store, rows: number): Promise<void> {
  await migrate(store, MIGRATIONS_DIR);
  const [have] = await store.query<{ n: number }>(sql`SELECT count() AS n FROM readings_raw`);
  if (Number(have?.n) === rows) return;
  const perStep = SENSORS * METRICS.length;
  // In slices, so 18.16 never holds more than a million rows of one INSERT … SELECT in memory.
  for (let start = 0; start < rows; start += 1_000_000) {
    const count = Math.min(1_000_000, rows - start);
    await store.command(sql`INSERT INTO readings_raw (sensor_id, metric, ts, value, received_at, source)
      SELECT concat('aq-', toString(intDiv(n % ${perStep}, ${METRICS.length}))),
        ${METRICS}[(n % ${METRICS.length}) + 1],
        ${T0} + intDiv(n, ${perStep}) * ${STEP_MS},
        round((n % 997) / 7, 2),
        ${T0} + intDiv(n, ${perStep}) * ${STEP_MS} + 500,
        'bench'
      FROM (SELECT number + ${start} AS n FROM system.numbers LIMIT ${count})`);
  }
}

/** Child side: one export, measured; prints the ExportCase as JSON. */
interface CaseSpec {
  backend: Backend;
  format: Format;
  rows: number;
  target: string;
  allocator: ExportCase['allocator'];
}

async function runCase(spec: CaseSpec): Promise<void> {
  const store =
    spec.backend === 'chdb'
      ? await openStore({ chdbPath: spec.target, database: 'bench' })
      : await openStore({ clickhouseUrl: spec.target, database: 'bench_export' });
  const dir = await mkdtemp(join(tmpdir(), 'sensormesh-bench-export-'));
  try {
    Bun.gc(true);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const tenths: number[] = [];
    const cpu = process.cpuUsage();
    const started = performance.now();
    const counter = await writeExportFile({
      store,
      plan: planFor(spec.format, spec.rows),
      path: join(dir, `export.${spec.format}`),
      signal: new AbortController().signal,
      onChunk: (progress) => {
        const rss = process.memoryUsage().rss;
        peak = Math.max(peak, rss);
        while (tenths.length < 10 && progress.rows >= ((tenths.length + 1) * spec.rows) / 10) {
          tenths.push(Math.round(rss / MiB));
        }
      },
    });
    const seconds = (performance.now() - started) / 1_000;
    const used = process.cpuUsage(cpu);
    clearInterval(sampler);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const rows = counter.rows || spec.rows;
    const result: ExportCase = {
      backend: spec.backend,
      format: spec.format,
      allocator: spec.allocator,
      rows,
      bytes: counter.bytes,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(rows / seconds),
      cpuSeconds: Number(cpuSeconds.toFixed(3)),
      rowsPerCpuSecond: Math.round(rows / cpuSeconds),
      baselineRssMiB: Math.round(baseline / MiB),
      peakRssMiB: Math.round(peak / MiB),
      vmHwmMiB: Math.round(vmHwmMiB()),
      rssByTenthMiB: tenths,
    };
    console.log(JSON.stringify(result));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const DECAY_0 = 'dirty_decay_ms:0,muzzy_decay_ms:0';

async function child(spec: CaseSpec): Promise<ExportCase> {
  const env = { ...process.env, ...(spec.allocator === 'decay-0' ? { JE_MALLOC_CONF: DECAY_0 } : {}) };
  const proc = Bun.spawn(['bun', import.meta.path, '--case', JSON.stringify(spec)], {
    stdout: 'pipe',
    stderr: 'inherit',
    env,
  });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`export bench case failed: ${JSON.stringify(spec)}`);
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ExportCase;
}

/**
 * Measures exports of each row count (default 1M and 10M) as CSV and Parquet on chDB and as CSV on
 * a ClickHouse server it starts; data is generated in the engines, once per backend.
 */
export async function benchExport(
  options: { rows?: number[]; log?: (line: string) => void } = {},
): Promise<ExportBenchReport> {
  const counts = options.rows ?? [1_000_000, 10_000_000];
  const log = options.log ?? ((line: string) => console.log(line));
  const total = Math.max(...counts);
  const cases: ExportCase[] = [];
  const chdbDir =
    process.env.BENCH_EXPORT_CHDB_DIR ?? (await mkdtemp(join(tmpdir(), 'sensormesh-bench-export-chdb-')));
  const server = await startClickHouse();
  try {
    log(`loading ${total.toLocaleString()} readings into chDB and clickhouse-server ${server.version}…`);
    const chdb = await openStore({ chdbPath: chdbDir, database: 'bench' });
    await loadReadings(chdb, total);
    await chdb.close();
    const remote = await openStore({ clickhouseUrl: server.url, database: 'bench_export' });
    await loadReadings(remote, total);
    await remote.close();
    const plan: Array<Omit<CaseSpec, 'rows'>> = [
      { backend: 'chdb', format: 'csv', target: chdbDir, allocator: 'default' },
      { backend: 'chdb', format: 'parquet', target: chdbDir, allocator: 'default' },
      { backend: 'clickhouse-server', format: 'csv', target: server.url, allocator: 'default' },
      { backend: 'chdb', format: 'csv', target: chdbDir, allocator: 'decay-0' },
      { backend: 'chdb', format: 'parquet', target: chdbDir, allocator: 'decay-0' },
    ];
    for (const entry of plan) {
      for (const rows of counts) {
        const result = await child({ ...entry, rows });
        cases.push(result);
        log(
          `${entry.backend.padEnd(17)} ${entry.format.padEnd(7)} ${entry.allocator.padEnd(7)} ${rows.toLocaleString().padStart(10)} rows: ` +
            `${result.rowsPerSecond.toLocaleString().padStart(9)} rows/s, ${result.rowsPerCpuSecond.toLocaleString().padStart(9)} rows/CPU-s, ` +
            `peak RSS ${result.peakRssMiB} MiB (baseline ${result.baselineRssMiB}, VmHWM ${result.vmHwmMiB}), ` +
            `${(result.bytes / MiB).toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    await server.stop();
    if (!process.env.BENCH_EXPORT_CHDB_DIR) await rm(chdbDir, { recursive: true, force: true });
  }
  const rssGrowthMiB: Record<string, number> = {};
  const keyOf = (c: ExportCase) => `${c.backend}/${c.format}/${c.allocator}`;
  for (const key of new Set(cases.map(keyOf))) {
    const of = cases.filter((c) => keyOf(c) === key).sort((a, b) => a.rows - b.rows);
    rssGrowthMiB[key] = (of.at(-1)?.peakRssMiB ?? 0) - (of[0]?.peakRssMiB ?? 0);
  }
  return { rows: counts, goalRowsPerSecond: GOAL_ROWS_PER_S, cases, rssGrowthMiB };
}

/** Command line: a single measured case (`--case <json>`, the children), or the whole bench with its report. */
export async function benchExportMain(argv = process.argv): Promise<void> {
  const at = argv.indexOf('--case');
  if (at !== -1) return runCase(JSON.parse(argv[at + 1] ?? '{}'));
  const { writeReport } = await import('../bench-report.ts');
  const rows = process.env.BENCH_EXPORT_ROWS?.split(',').map(Number);
  const report = await benchExport(rows ? { rows } : {});
  console.log('RSS growth from the smallest to the largest export (MiB):', report.rssGrowthMiB);
  console.log(`written: ${await writeReport('export', { ...report })}`);
}

if (import.meta.main) await benchExportMain();
