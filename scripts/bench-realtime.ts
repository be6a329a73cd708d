/**
 * WebSocket fan-out of the gateway beside a bare Bun.serve pub/sub relay, in one run, on loopback:
 *  (a) 5,000 clients, each subscribed to 10 of 1,000 sensors, 1,000 readings/s entering the
 *      `readings` stream: p50/p99 latency from XADD to arrival at the client, and events lost;
 *  (b) 1,000 clients on the whole stream, a burst of 5,000 readings (5M deliveries): deliveries/s.
 * Servers, the producer and the clients (two processes) each run in their own process; latency is
 * compared across processes with performance.timeOrigin + performance.now(). Starts its own
 * redis-server and clickhouse-server. Bounded: BENCH_DURATION_S (default 8) s of readings for (a),
 * a fixed burst for (b), at most 15 s of draining after the producer is done.
 */
import { join } from 'node:path';
import { startClickHouse, startRedis } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { writeReport } from './bench-report.ts';
import { cpuMeter } from './lib/cpu.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
/** Scales client counts and the burst down for a quick check (BENCH_SCALE=0.1); 1 is the benchmark. */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const scaled = (n: number) => Math.max(1, Math.round(n * SCALE));
const CLIENT_PROCESSES = 2;
const WORKER = join(import.meta.dir, 'lib', 'realtime-worker.ts');
const now = () => performance.timeOrigin + performance.now();

interface Case {
  name: string;
  clients: number;
  perClient: number;
  sensors: number;
  producer: { rate: number; durationS: number } | { count: number };
  /** Readings of the first second are warm-up: not in the latency figures (still counted for loss). */
  latencyFromSeq: number;
}

const CASES: Case[] = [
  {
    name: 'a: 5,000 clients × 10 of 1,000 sensors, 1,000 readings/s',
    clients: scaled(5_000),
    perClient: 10,
    sensors: 1_000,
    producer: { rate: 1_000, durationS: DURATION_S + 1 },
    latencyFromSeq: 1_000,
  },
  {
    name: 'b: 1,000 clients on the whole stream, burst of 5,000 readings',
    clients: scaled(1_000),
    perClient: 0,
    sensors: 1_000,
    producer: { count: scaled(5_000) },
    latencyFromSeq: 0,
  },
];

/** A worker process and its JSON lines. */
class Worker {
  readonly lines: Array<Record<string, unknown>> = [];
  private wake: (() => void) | undefined;
  readonly process: ReturnType<typeof Bun.spawn>;

  constructor(role: string, spec: unknown, nofile: number) {
    // `ulimit -n` is raised per process (up to the hard limit checked below) before Bun starts.
    this.process = Bun.spawn(
      ['bash', '-c', 'ulimit -n "$0" && exec bun "$@"', String(nofile), WORKER, role, JSON.stringify(spec)],
      {
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'inherit',
      },
    );
    void this.read();
  }

  private async read(): Promise<void> {
    let rest = '';
    for await (const chunk of this.process.stdout as ReadableStream<Uint8Array>) {
      rest += new TextDecoder().decode(chunk);
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part) as Record<string, unknown>);
      this.wake?.();
    }
    this.wake?.();
  }

  /** The first line (from `from` on) with this event, waiting for it. */
  async next(event: string, from = 0): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.lines.slice(from).find((line) => line.event === event);
      if (found) return found;
      if (this.process.exitCode !== null)
        throw new Error(`worker exited (${this.process.exitCode}) before ${event}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
  }

  send(command: string): void {
    if (this.process.exitCode !== null) return; // the producer exits on its own when done
    const stdin = this.process.stdin as import('bun').FileSink;
    try {
      stdin.write(`${command}\n`);
      stdin.flush();
    } catch {
      // exited between the check and the write
    }
  }

  async report(): Promise<Record<string, unknown>> {
    const from = this.lines.length;
    this.send('report');
    return this.next('report', from);
  }

  async stop(): Promise<void> {
    this.send('stop');
    await Promise.race([this.process.exited, Bun.sleep(3_000)]);
    this.process.kill();
  }
}

function hardFileLimit(): number {
  const out = Bun.spawnSync(['bash', '-c', 'ulimit -Hn']).stdout.toString().trim();
  return out === 'unlimited' ? 1_048_576 : Number(out);
}

/** p-th percentile (0…100) of merged histograms. */
function percentile(buckets: Map<number, number>, bucketMs: number, p: number): number {
  const total = [...buckets.values()].reduce((sum, n) => sum + n, 0);
  let seen = 0;
  for (const [index, count] of [...buckets].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (seen >= (total * p) / 100) return Number(((index + 1) * bucketMs).toFixed(2));
  }
  return Number.NaN;
}

async function runCase(
  testCase: Case,
  kind: 'gateway' | 'bare',
  urls: { redisUrl: string; clickhouseUrl: string },
) {
  const redis = new Redis(urls.redisUrl);
  await redis.del('readings');
  redis.disconnect();
  const perProcess = Math.ceil(testCase.clients / CLIENT_PROCESSES);
  const server = new Worker(`server-${kind}`, urls, testCase.clients + 1_024);
  const { port } = (await server.next('ready')) as { port: number };
  const url = kind === 'gateway' ? `ws://127.0.0.1:${port}/api/v1/stream` : `ws://127.0.0.1:${port}/`;
  const clients = Array.from(
    { length: CLIENT_PROCESSES },
    (_, index) =>
      new Worker(
        'clients',
        {
          url,
          clients: perProcess,
          perClient: testCase.perClient,
          sensors: testCase.sensors,
          seed: 7 + index,
          latencyFromSeq: testCase.latencyFromSeq,
        },
        perProcess + 1_024,
      ),
  );
  const subscribers = new Map<string, number>();
  for (const worker of clients) {
    const ready = (await worker.next('ready')) as { subscribers: Record<string, number> };
    for (const [sensor, n] of Object.entries(ready.subscribers))
      subscribers.set(sensor, (subscribers.get(sensor) ?? 0) + n);
  }
  const producer = new Worker(
    'producer',
    { redisUrl: urls.redisUrl, sensors: testCase.sensors, ...testCase.producer },
    1_024,
  );
  const meter = cpuMeter({
    server: server.process.pid,
    ...Object.fromEntries(clients.map((worker, index) => [`clients-${index + 1}`, worker.process.pid])),
  });
  const done = (await producer.next('done')) as {
    produced: Record<string, number>;
    total: number;
    startedAt: number;
    endedAt: number;
  };
  const expected =
    testCase.perClient > 0
      ? Object.entries(done.produced).reduce(
          (sum, [sensor, n]) => sum + n * (subscribers.get(sensor) ?? 0),
          0,
        )
      : done.total * perProcess * CLIENT_PROCESSES;

  // Drain: until every expected event arrived, or nothing moved for 2 s (lost), at most 15 s.
  let reports: Array<Record<string, unknown>> = [];
  let received = 0;
  let lastProgress = now();
  let drained: 'complete' | 'stalled' | 'time limit' = 'time limit';
  const drainStart = now();
  while (now() - drainStart < 15_000) {
    reports = await Promise.all(clients.map((worker) => worker.report()));
    const total = reports.reduce((sum, report) => sum + Number(report.received), 0);
    if (total > received) lastProgress = now();
    received = total;
    if (received >= expected) drained = 'complete';
    else if (now() - lastProgress > 2_000) drained = 'stalled';
    else {
      await Bun.sleep(250);
      continue;
    }
    break;
  }
  const cpu = meter.read();
  const buckets = new Map<number, number>();
  let bucketMs = 0.05;
  let maxMs = 0;
  let overflow = 0;
  const closeCodes: Record<string, number> = {};
  for (const report of reports) {
    const latency = report.latency as {
      bucketMs: number;
      buckets: Record<string, number>;
      overflow: number;
      maxMs: number;
    };
    bucketMs = latency.bucketMs;
    for (const [index, n] of Object.entries(latency.buckets))
      buckets.set(Number(index), (buckets.get(Number(index)) ?? 0) + n);
    overflow += latency.overflow;
    maxMs = Math.max(maxMs, latency.maxMs);
    for (const [code, n] of Object.entries(report.closeCodes as Record<string, number>))
      closeCodes[code] = (closeCodes[code] ?? 0) + n;
  }
  const lastArrival = Math.max(...reports.map((report) => Number(report.lastArrival)));
  const seconds = (lastArrival - done.startedAt) / 1_000;
  const serverStopped = server.lines.length;
  await Promise.all([...clients.map((worker) => worker.stop()), producer.stop()]);
  server.send('stop');
  const stopped = await Promise.race([
    server.next('stopped', serverStopped),
    Bun.sleep(3_000).then(() => ({})),
  ]);
  await server.stop();
  return {
    server: kind,
    readings: done.total,
    expected,
    received,
    /** Events that never came (the drain stalled); on a time limit they were still arriving. */
    lost: drained === 'time limit' ? 0 : expected - received,
    drained,
    outOfOrder: reports.reduce((sum, report) => sum + Number(report.outOfOrder), 0),
    closeCodes,
    serverCloses: (stopped as { closes?: unknown }).closes ?? [],
    deliveriesPerSecond: Math.round(received / seconds),
    latencyMs: {
      p50: percentile(buckets, bucketMs, 50),
      p99: percentile(buckets, bucketMs, 99),
      p999: percentile(buckets, bucketMs, 99.9),
      max: Number(maxMs.toFixed(2)),
      over1s: overflow,
    },
    cpuSeconds: cpu,
    serverCpuUsPerDelivery: Number((((cpu.server ?? 0) / Math.max(1, received)) * 1e6).toFixed(3)),
  };
}

const hard = hardFileLimit();
const need = Math.max(...CASES.map((c) => c.clients)) + 1_024;
if (hard < need) {
  console.error(
    `realtime bench: needs ${need} open files per server process; the hard limit (ulimit -Hn) is ${hard}`,
  );
  process.exit(1);
}
const [redisServer, clickhouse] = await Promise.all([startRedis(), startClickHouse()]);
const urls = { redisUrl: redisServer.url, clickhouseUrl: clickhouse.url };
console.log(
  `realtime bench: loopback, clients in ${CLIENT_PROCESSES} processes, ulimit -n raised per process (hard limit ${hard})`,
);
const results: Record<string, unknown>[] = [];
try {
  for (const testCase of CASES) {
    const gateway = await runCase(testCase, 'gateway', urls);
    const bare = await runCase(testCase, 'bare', urls);
    const row = {
      case: testCase.name,
      gateway,
      bare,
      ratio: {
        deliveriesPerSecond: Number((gateway.deliveriesPerSecond / bare.deliveriesPerSecond).toFixed(3)),
        serverCpuPerDelivery: Number(
          (gateway.serverCpuUsPerDelivery / bare.serverCpuUsPerDelivery).toFixed(2),
        ),
        p99: Number((gateway.latencyMs.p99 / bare.latencyMs.p99).toFixed(2)),
      },
    };
    results.push(row);
    console.table(
      [gateway, bare].map((r) => ({
        case: testCase.name.slice(0, 2),
        server: r.server,
        readings: r.readings,
        received: r.received,
        lost: r.lost,
        drained: r.drained,
        'out of order': r.outOfOrder,
        'deliveries/s': r.deliveriesPerSecond,
        'p50 ms': r.latencyMs.p50,
        'p99 ms': r.latencyMs.p99,
        'max ms': r.latencyMs.max,
        'server CPU s': r.cpuSeconds.server,
        'server µs/delivery': r.serverCpuUsPerDelivery,
      })),
    );
    console.log(`ratio gateway/bare: ${JSON.stringify(row.ratio)}`);
  }
  const file = await writeReport('realtime', {
    durationS: DURATION_S,
    scale: SCALE,
    clientProcesses: CLIENT_PROCESSES,
    results,
  });
  console.log(`written to ${file}`);
} finally {
  await Promise.all([redisServer.stop(), clickhouse.stop()]);
}
