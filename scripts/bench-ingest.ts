/**
 * MQTT ingest end to end, beside the raw broker ceiling, in one run on loopback servers:
 * `bun scripts/bench-ingest.ts [--seconds 15] [--rate 0] [--qos 1] [--connections 4] [--frames-ceiling]`.
 * (a) ceiling: the publisher child → Mosquitto → a bare mqtt.js subscriber that only counts
 *     (`--frames-ceiling`: then again with a subscriber that splits frames off the socket as ingest does);
 * (b) end to end: the same publisher → Mosquitto (deploy's queue settings) → ingest (MQTT client
 * mode, a child process, acks after XADD) → `readings` → the writer (this process) → ClickHouse,
 * until ClickHouse holds every row. Rate 0 publishes as fast as the broker takes QoS 1 messages.
 * `--writer child` (default) runs the writer in a process of its own as deployed; `inline` runs it
 * in this process. CPU seconds per component come from /proc, since wall-clock rates on a shared
 * machine move with whatever else runs.
 */
import { parseArgs } from 'node:util';
import { parseEnv } from '@sensormesh/config';
import { IngestEnv, ingestContext } from '@sensormesh/ingest';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { ident, MIGRATIONS_DIR, migrate, openStore, sql } from '@sensormesh/store';
import { startClickHouse, startMosquitto, startRedis } from '@sensormesh/testkit';
import { startWriter, WriterEnv } from '@sensormesh/writer';
import type { Subprocess } from 'bun';
import Redis from 'ioredis';
import { writeReport } from './bench-report.ts';
import { cpuMeter, cpuReport, findPid } from './lib/cpu.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    rate: { type: 'string', default: '0' },
    qos: { type: 'string', default: '1' },
    connections: { type: 'string', default: '4' },
    sensors: { type: 'string', default: '1000' },
    'frames-ceiling': { type: 'boolean', default: false },
    writer: { type: 'string', default: 'child' },
  },
});
const SECONDS = Number(values.seconds);
const SENSORS = Number(values.sensors);
const DATABASE = 'bench_ingest';
const root = new URL('..', import.meta.url).pathname;
const children: Subprocess[] = [];

/** Spawns a bun child; `lines` yields its stdout line by line. */
function child(script: string, env: Record<string, string>, flags: string[] = []) {
  const proc = Bun.spawn(['bun', ...flags, `${root}${script}`], {
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  children.push(proc);
  const reader = proc.stdout.getReader();
  let buffer = '';
  async function next(): Promise<string> {
    for (;;) {
      const newline = buffer.indexOf('\n');
      if (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`${script} exited: ${buffer}`);
      buffer += new TextDecoder().decode(value);
    }
  }
  return { proc, next };
}

interface Published {
  published: number;
  rows: number;
  acked: number;
  startedAt: number;
  endedAt: number;
  cpuSeconds: number;
}

function publish(url: string, prefix: string, t0: number, rate: string): Promise<Published> {
  const pub = child('services/ingest/src/test-fixtures/mqtt-publisher.ts', {
    URL: url,
    RATE: rate,
    QOS: values.qos ?? '1',
    CONNECTIONS: values.connections ?? '4',
    DURATION_MS: String(SECONDS * 1_000),
    SENSORS: String(SENSORS),
    PREFIX: prefix,
    T0: String(t0),
  });
  return pub.next().then((line) => JSON.parse(line) as Published);
}

/**
 * Redis's own time per command (INFO commandstats, since the RESETSTAT before the run) per message
 * published: where the redis-server share of the CPU goes, busiest first. It counts command
 * execution only, not reading requests or writing replies.
 */
function commandCost(info: string, messages: number) {
  const cost: [string, number][] = [];
  const calls: [string, number][] = [];
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (!match) continue;
    cost.push([match[1] as string, Number((Number(match[3]) / messages).toFixed(2))]);
    calls.push([match[1] as string, Math.round(messages / Number(match[2]))]);
  }
  return {
    usPerMessage: Object.fromEntries(cost.sort((a, b) => b[1] - a[1])),
    /** How many messages one call served on average: the batching of each path. */
    messagesPerCall: Object.fromEntries(calls.sort((a, b) => a[1] - b[1])),
  };
}

/**
 * BENCH_PROFILE=1 writes a CPU profile (markdown) of each child to /tmp/bench-prof/<name>;
 * BENCH_PROFILE=json writes a .cpuprofile instead, whose samples can be counted apart from idle.
 */
const profile = (name: string) =>
  process.env.BENCH_PROFILE
    ? [
        process.env.BENCH_PROFILE === 'json' ? '--cpu-prof' : '--cpu-prof-md',
        `--cpu-prof-dir=/tmp/bench-prof/${name}`,
      ]
    : [];

/** BENCH_TIMELINE=1 prints, every second, each component's share of a core, stream length and rows. */
function timeline(cpu: { read(): Record<string, number> }, countRows: () => Promise<number>) {
  let last = cpu.read();
  const timer = setInterval(async () => {
    const now = cpu.read();
    const shares = Object.keys(now).map(
      (name) => `${name} ${Math.round(((now[name] ?? 0) - (last[name] ?? 0)) * 100)}%`,
    );
    last = now;
    const [length, rows] = await Promise.all([redis.xlen('readings'), countRows()]);
    console.error(`${shares.join(' ')} | stream ${length} rows ${rows}`);
  }, 1_000);
  return () => clearInterval(timer);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const round = (n: number) => Math.round(n);

const [redisServer, clickhouse, mosquitto] = await Promise.all([
  startRedis(),
  startClickHouse(),
  startMosquitto(
    (await Bun.file(`${root}deploy/mosquitto/mosquitto.conf`).text())
      .split('\n')
      .filter((line) => /^max_(queued|inflight)/.test(line)),
  ),
]);
const redis = new Redis(redisServer.url);
const serverPids = {
  mosquitto: findPid(`${mosquitto.dir}/mosquitto.conf`),
  redis: findPid(`127.0.0.1:${redisServer.port}`), // redis-server retitles itself "redis-server host:port"
  clickhouse: findPid(`${clickhouse.dir}/config.xml`),
};
const store = await openStore({ clickhouseUrl: clickhouse.url, database: DATABASE });
try {
  await migrate(store, MIGRATIONS_DIR);
  const registry = createRegistry();
  const ctx = ingestContext({
    config: parseEnv(IngestEnv, {}),
    store,
    redis,
    logger: silentLogger(),
    registry,
  });
  for (let start = 0; start < SENSORS; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, SENSORS - start) }, (_, k) =>
        ctx.sensors.create(
          { id: `bench-${start + k}`, name: `bench ${start + k}`, kind: 'air-quality' },
          'bench',
        ),
      ),
    );
  }
  // 1,000 single-row inserts leave as many parts; merge them now, not during the measurement.
  for (const table of ['sensors', 'device_keys'])
    await store.command(sql`OPTIMIZE TABLE ${ident(table)} FINAL`);
  console.info(
    `${SENSORS} sensors; ClickHouse ${clickhouse.version}; ${SECONDS} s per phase, QoS ${values.qos}`,
  );

  // (a) The ceiling: the same publisher to a subscriber that does nothing but count.
  const measureCeiling = async (frames: boolean) => {
    const bare = child('services/ingest/src/test-fixtures/mqtt-bare-subscriber.ts', {
      URL: mosquitto.url,
      FRAMES: frames ? '1' : '0',
    });
    await bare.next();
    const meter = cpuMeter({ mosquitto: serverPids.mosquitto, subscriber: bare.proc.pid });
    const published = await publish(mosquitto.url, 'bench', Date.now() - 7_200_000, '0'); // always flat out
    let stats = { received: 0, firstAt: 0, lastAt: 0 };
    const deadline = Date.now() + 120_000;
    while (stats.received < published.published && Date.now() < deadline)
      stats = JSON.parse(await bare.next());
    const used = { publisher: published.cpuSeconds, ...meter.read() };
    bare.proc.kill();
    await bare.proc.exited;
    const seconds = (stats.lastAt - published.startedAt) / 1_000;
    const msgPerS = stats.received / seconds;
    console.info(
      `ceiling${frames ? ' (frame-splitting subscriber)' : ''}: ${stats.received}/${published.published} delivered, ${round(msgPerS)} msg/s`,
    );
    return {
      figures: { published: published.published, delivered: stats.received, msgPerS: round(msgPerS) },
      msgPerS,
      cpu: cpuReport(used, stats.received, seconds),
    };
  };
  const ceiling = await measureCeiling(false);
  // --frames-ceiling: also the ceiling against a subscriber that splits frames as ingest does.
  const framesCeiling = values['frames-ceiling'] ? await measureCeiling(true) : undefined;

  // (b) End to end, ingest and (by default) the writer each in a child process, as deployed.
  const childEnv = { REDIS_URL: redisServer.url, CLICKHOUSE_URL: clickhouse.url, DATABASE };
  const inline = values.writer === 'inline';
  const writer = inline
    ? await startWriter({
        config: parseEnv(WriterEnv, process.env),
        store,
        redis,
        logger: silentLogger(),
        registry,
      })
    : undefined;
  const writerChild = inline
    ? undefined
    : child('services/writer/src/test-fixtures/writer-child.ts', childEnv, profile('writer'));
  await writerChild?.next();
  const ingest = child(
    'services/ingest/src/test-fixtures/mqtt-ingest-child.ts',
    {
      ...childEnv,
      MQTT_URL: mosquitto.url,
      MQTT_CLIENT_ID: 'bench-ingest',
    },
    profile('ingest'),
  );
  await ingest.next();
  const cpu = cpuMeter({
    ...serverPids,
    ingest: ingest.proc.pid,
    writer: writerChild?.proc.pid ?? process.pid,
  });
  // Polled from the parts' row counts: 18.16 answers count() by reading a column (9 ms of server
  // CPU at 4M rows, every 100 ms), which would tax the system being measured. Checked once at the end.
  const countRows = async () =>
    Number(
      (
        await store.query<{ n: string }>(
          sql`SELECT sum(rows) AS n FROM system.parts WHERE database = currentDatabase() AND table = 'readings_raw' AND active`,
        )
      )[0]?.n ?? 0,
    );
  const stopTimeline = process.env.BENCH_TIMELINE ? timeline(cpu, countRows) : () => {};
  await redis.config('RESETSTAT');
  const pub = await publish(mosquitto.url, 'bench', Date.now() - 3_600_000, values.rate ?? '0');
  const deadline = Date.now() + 180_000;
  let rows = await countRows();
  while (rows < pub.rows && Date.now() < deadline) {
    await Bun.sleep(100);
    rows = await countRows();
  }
  const doneAt = performance.timeOrigin + performance.now();
  const cpuUsed = { publisher: pub.cpuSeconds, ...cpu.read() };
  const redisCommands = commandCost(await redis.info('commandstats'), pub.published);
  stopTimeline();
  rows = Number((await store.query<{ n: string }>(sql`SELECT count() AS n FROM readings_raw`))[0]?.n ?? 0);
  await writer?.stop();
  for (const { proc } of writerChild ? [ingest, writerChild] : [ingest]) {
    proc.kill('SIGTERM');
    await proc.exited;
  }

  // Latency: publish time (in messageId) → the stream entry's id (Redis's clock, ms).
  const latencies: number[] = [];
  for (let from = '-'; ; ) {
    const page = await redis.xrange('readings', from, '+', 'COUNT', 10_000);
    for (const [id, fields] of page) {
      const messageId = (JSON.parse(fields[1] as string) as { messageId: string }).messageId;
      latencies.push(
        Number(id.slice(0, id.indexOf('-'))) - Number(messageId.slice(messageId.indexOf('@') + 1)),
      );
    }
    if (page.length < 10_000) break;
    from = `(${page[page.length - 1]?.[0]}`;
  }
  latencies.sort((a, b) => a - b);
  const endToEnd = pub.published / ((doneAt - pub.startedAt) / 1_000);
  const figures = {
    sensors: SENSORS,
    seconds: SECONDS,
    qos: Number(values.qos),
    targetRate: Number(values.rate),
    published: pub.published,
    acked: pub.acked,
    publishRate: round(pub.published / ((pub.endedAt - pub.startedAt) / 1_000)),
    rowsExpected: pub.rows,
    rowsInClickHouse: rows,
    zeroLoss: rows === pub.rows,
    streamEntries: latencies.length,
    endToEndMsgPerS: round(endToEnd),
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
    },
    ceiling: ceiling.figures,
    ratioToCeiling: Number((endToEnd / ceiling.msgPerS).toFixed(3)),
    ...(framesCeiling && {
      framesCeiling: framesCeiling.figures,
      ratioToFramesCeiling: Number((endToEnd / framesCeiling.msgPerS).toFixed(3)),
    }),
    writer: inline ? 'inline' : 'child',
    cpu: {
      endToEnd: cpuReport(cpuUsed, pub.published, (doneAt - pub.startedAt) / 1_000),
      redisCommandsUsPerMessage: redisCommands.usPerMessage,
      redisMessagesPerCall: redisCommands.messagesPerCall,
      ceiling: ceiling.cpu,
      ...(framesCeiling && { framesCeiling: framesCeiling.cpu }),
    },
  };
  console.info(JSON.stringify(figures, null, 2));
  console.info(`report: ${await writeReport('ingest', figures)}`);
} finally {
  for (const proc of children) proc.kill('SIGKILL');
  redis.disconnect();
  await store.close();
  await Promise.all([redisServer.stop(), clickhouse.stop(), mosquitto.stop()]);
}
