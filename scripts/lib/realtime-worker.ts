/**
 * The processes of `scripts/bench realtime`, one role each, so servers, clients and the producer
 * never share an event loop. Each prints JSON lines on stdout and takes commands on stdin.
 * Usage: bun scripts/lib/realtime-worker.ts <role> '<spec as JSON>'
 *   server-gateway | server-bare  {redisUrl, clickhouseUrl?}        → {event:'ready', port}
 *   clients                       {url, clients, sensors, perClient, seed, latencyFromSeq}
 *                                 → {event:'ready'}; stdin 'report' → {event:'report', …}
 *   producer                      {redisUrl, rate?, count?, durationS?, sensors} → {event:'done', …}
 */
import { parseEnv } from '@sensormesh/config';
import { GatewayEnv, gatewayContext, gatewayPlugin, startStreamFanout } from '@sensormesh/gateway';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { openStore } from '@sensormesh/store';
import Redis from 'ioredis';
import { RawClient } from './realtime-client.ts';

const [role = '', specJson = '{}'] = process.argv.slice(2);
const spec = JSON.parse(specJson) as Record<string, unknown>;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const now = () => performance.timeOrigin + performance.now();
const STREAM = 'readings';

/** Runs `handle` for each line on stdin. */
async function commands(handle: (line: string) => void | Promise<void>): Promise<void> {
  for await (const line of console) await handle(line.trim());
}

async function gatewayServer(): Promise<void> {
  // The stream path never queries the store (no tag filters, no archive replay here): no migrations.
  const store = await openStore({ clickhouseUrl: String(spec.clickhouseUrl), database: 'default' });
  const config = parseEnv(GatewayEnv, {
    JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    STREAM_MAX_CONNECTIONS_PER_IP: '1000000',
    STREAM_BUFFER_BYTES: String(8 * 1_048_576),
  });
  const redis = new Redis(String(spec.redisUrl));
  const ctx = gatewayContext({ config, store, redis, logger: silentLogger(), registry: createRegistry() });
  const fanout = await startStreamFanout(ctx);
  const app = gatewayPlugin(ctx).listen({ port: 0, hostname: '127.0.0.1' });
  say({ event: 'ready', port: app.server?.port, pid: process.pid });
  await commands(async (line) => {
    if (line !== 'stop') return;
    const closes = await ctx.registry.getSingleMetric('gateway_ws_closes_total')?.get();
    say({ event: 'stopped', closes: closes?.values.map((v) => [v.labels.reason, v.value]) ?? [] });
    await fanout.stop();
    process.exit(0);
  });
}

/**
 * The reference: Bun.serve pub/sub with nothing else. It reads the stream with the same XREAD
 * loop, parses each entry only for its sensor id, and publishes the same frame our gateway sends
 * on a per-sensor and a whole-stream topic. No validation, auth, filters, replay or limits.
 */
async function bareServer(): Promise<void> {
  const redis = new Redis(String(spec.redisUrl));
  const [newest] = (await redis.xrevrange(STREAM, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  let position = newest?.[0] ?? '0-0';
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request, srv) {
      return srv.upgrade(request) ? undefined : new Response('websocket only', { status: 400 });
    },
    websocket: {
      message(ws, message) {
        const { id, filter } = JSON.parse(String(message)) as {
          id: string;
          filter?: { sensorIds?: string[] };
        };
        if (filter?.sensorIds) for (const sensor of filter.sensorIds) ws.subscribe(`r/${sensor}`);
        else ws.subscribe('r/*');
        ws.send(JSON.stringify({ type: 'subscribed', id, channel: 'readings', cursor: position }));
      },
    },
  });
  say({ event: 'ready', port: server.port, pid: process.pid });
  let running = true;
  void commands((line) => {
    if (line === 'stop') {
      running = false;
      say({ event: 'stopped' });
      process.exit(0);
    }
  });
  while (running) {
    const reply = (await redis.xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', STREAM, position)) as Array<
      [string, Array<[string, string[]]>]
    > | null;
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        const raw = fields[1] as string;
        const { sensorId } = JSON.parse(raw) as { sensorId: string };
        const frame = `{"type":"event","id":"s1","channel":"readings","cursor":"${id}","data":${raw}}`;
        server.publish(`r/${sensorId}`, frame);
        server.publish('r/*', frame);
        position = id;
      }
    }
  }
}

/** A seeded PRNG (mulberry32), so both servers get the same subscriptions. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const sensorName = (n: number) => `bench-${String(n).padStart(4, '0')}`;

async function clientsRole(): Promise<void> {
  const count = Number(spec.clients);
  const perClient = Number(spec.perClient ?? 0); // 0: the whole stream
  const sensors = Number(spec.sensors);
  const next = random(Number(spec.seed));
  const latencyFromSeq = Number(spec.latencyFromSeq ?? 0);
  const clients: RawClient[] = [];
  const subscribers = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const chosen = new Set<string>();
    while (perClient > 0 && chosen.size < perClient) chosen.add(sensorName(Math.floor(next() * sensors)));
    for (const sensor of chosen) subscribers.set(sensor, (subscribers.get(sensor) ?? 0) + 1);
    clients.push(new RawClient(String(spec.url), perClient > 0 ? [...chosen] : null, latencyFromSeq));
  }
  // Connect a hundred at a time: a burst of thousands of handshakes only measures the accept queue.
  for (let start = 0; start < clients.length; start += 100)
    await Promise.all(clients.slice(start, start + 100).map((client) => client.open()));
  say({ event: 'ready', clients: clients.length, subscribers: Object.fromEntries(subscribers) });
  await commands((line) => {
    if (line === 'report') say({ event: 'report', ...RawClient.summary(clients) });
    if (line === 'stop') {
      for (const client of clients) client.destroy();
      process.exit(0);
    }
  });
}

async function producer(): Promise<void> {
  const redis = new Redis(String(spec.redisUrl));
  const sensors = Number(spec.sensors);
  const produced: Record<string, number> = {};
  let seq = 0;
  const reading = (sentAt: number) => {
    const sensorId = sensorName(seq % sensors);
    produced[sensorId] = (produced[sensorId] ?? 0) + 1;
    const ts = Date.now();
    return JSON.stringify({
      sensorId,
      ts,
      metrics: { pm25: seq % 500, temp: 21.5 },
      receivedAt: ts,
      source: 'bench',
      seq: seq++,
      sentAt,
    });
  };
  const send = async (n: number) => {
    const pipeline = redis.pipeline();
    const sentAt = now();
    for (let i = 0; i < n; i++) pipeline.xadd(STREAM, '*', 'm', reading(sentAt));
    await pipeline.exec();
  };
  const startedAt = now();
  if (spec.count !== undefined) {
    // A burst: everything as fast as Redis takes it, in pipelines of 1,000.
    for (let left = Number(spec.count); left > 0; left -= 1_000) await send(Math.min(1_000, left));
  } else {
    const rate = Number(spec.rate);
    const end = startedAt + Number(spec.durationS) * 1_000;
    while (now() < end) {
      const due = Math.floor(((now() - startedAt) / 1_000) * rate) - seq;
      if (due > 0) await send(due);
      await Bun.sleep(1);
    }
  }
  say({ event: 'done', produced, total: seq, startedAt, endedAt: now() });
  redis.disconnect();
  process.exit(0);
}

const roles: Record<string, () => Promise<void>> = {
  'server-gateway': gatewayServer,
  'server-bare': bareServer,
  clients: clientsRole,
  producer,
};
const run = roles[role];
if (!run) {
  console.error(`unknown role ${role}; one of ${Object.keys(roles).join(', ')}`);
  process.exit(2);
}
await run();
