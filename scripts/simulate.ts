/**
 * The device simulator's command line (scripts/simulate): replays the Beijing stations or runs a
 * synthetic fleet over MQTT, one connection per device, optionally with injected faults whose
 * ground truth goes to a JSONL file. Prints JSON lines: start, progress every 5 s, summary.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BEIJING_STATIONS,
  checkFleet,
  connectDevices,
  type DeviceCredential,
  type DeviceReading,
  faultInjector,
  fleet,
  fleetSensorIds,
  MAX_SPEED,
  parseDuration,
  parseFaults,
  pump,
  type ReadingFilter,
  readDevicesFile,
  replay,
  stationFiles,
  stationSensorId,
} from '@sensormesh/simulator';

const ROOT = resolve(import.meta.dir, '..');
const USAGE = `usage:
  scripts/simulate replay [--data DIR] [--speed 3600] [--from 2015-01-01] [--stations dongsi,tiantan] [--once]
  scripts/simulate fleet --sensors N --rate MSG_PER_S --duration 60s [--prefix sim-] [--seed 1]
common flags:
  --url mqtt://127.0.0.1:1883   broker (default MQTT_URL, else mqtt://127.0.0.1:$MQTT_PORT or 1883)
  --qos 0|1                     default 1
  --devices FILE                [{sensorId, deviceKey}] (replay default: $DATA_DIR/secrets/demo-devices.json
                                when present); without keys devices connect with no password
  --faults SPEC[,SPEC…]         kind:sensor[/metric][@start][+duration][=magnitude], kind one of
                                stuck, spike, drift, dropout; e.g. spike:aq-beijing-dongsi/pm25@30s
  --truth FILE                  ground truth of the faults, JSONL (default .data/simulate/faults-<time>.jsonl)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    speed: { type: 'string', default: '3600' },
    from: { type: 'string' },
    stations: { type: 'string' },
    once: { type: 'boolean', default: false },
    sensors: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '60s' },
    prefix: { type: 'string', default: 'sim-' },
    seed: { type: 'string', default: '1' },
    url: { type: 'string' },
    qos: { type: 'string', default: '1' },
    devices: { type: 'string' },
    faults: { type: 'string' },
    truth: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(message: string): never {
  console.error(`error: ${message}\n${USAGE}`);
  process.exit(2);
}

const mode = positionals[0];
if (values.help || (mode !== 'replay' && mode !== 'fleet')) {
  if (!values.help) fail(mode ? `unknown subcommand "${mode}"` : 'a subcommand is needed');
  console.log(USAGE);
  process.exit(0);
}
const number = (flag: string, text: string | undefined) => {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value)) fail(`--${flag} needs a number`);
  return value;
};
const qos = values.qos === '0' ? 0 : values.qos === '1' ? 1 : fail('--qos is 0 or 1');
const url = values.url ?? process.env.MQTT_URL ?? `mqtt://127.0.0.1:${process.env.MQTT_PORT ?? 1883}`;

async function credentials(
  sensorIds: readonly string[],
): Promise<Array<{ sensorId: string; deviceKey?: string }>> {
  const fallback = join(resolve(ROOT, process.env.DATA_DIR ?? '.data'), 'secrets/demo-devices.json');
  const file = values.devices
    ? resolve(values.devices)
    : mode === 'replay' && existsSync(fallback)
      ? fallback
      : undefined;
  if (!file) return sensorIds.map((sensorId) => ({ sensorId }));
  const keys = new Map((await readDevicesFile(file)).map((d: DeviceCredential) => [d.sensorId, d.deviceKey]));
  const missing = sensorIds.filter((id) => !keys.has(id));
  if (missing.length > 0)
    fail(`${file} has no key for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''}`);
  return sensorIds.map((sensorId) => ({ sensorId, deviceKey: keys.get(sensorId) as string }));
}

function truthWriter(): { filter?: ReadingFilter; close(): void; path?: string } {
  if (!values.faults) return { close() {} };
  const specs = (() => {
    try {
      return parseFaults(values.faults as string);
    } catch (error) {
      return fail((error as Error).message);
    }
  })();
  const path = values.truth
    ? resolve(values.truth)
    : join(ROOT, '.data/simulate', `faults-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
  // Appended line by line, synchronously: a run stopped mid-way keeps every fault already closed.
  const injector = faultInjector(specs, (truth) => appendFileSync(path, `${JSON.stringify(truth)}\n`));
  return { filter: injector, close: () => injector.close(), path };
}

const controller = new AbortController();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    controller.abort();
  });
}

let sensorIds: string[];
let source: AsyncIterable<DeviceReading[]>;
if (mode === 'replay') {
  const dir = values.data ? resolve(values.data) : resolve(ROOT, '../shared/data/beijing/train');
  const only = values.stations?.split(',').map((s) => s.trim().toLowerCase());
  const unknown = only?.filter((slug) => !BEIJING_STATIONS.some((s) => s.slug === slug)) ?? [];
  if (unknown.length > 0) fail(`unknown station ${unknown.join(', ')}`);
  const fromDataTs = values.from === undefined ? undefined : Date.parse(values.from);
  if (fromDataTs !== undefined && Number.isNaN(fromDataTs)) fail('--from needs a date, e.g. 2015-01-01');
  const speed = number('speed', values.speed);
  if (!(speed > 0 && speed <= MAX_SPEED)) fail(`--speed must be in (0, ${MAX_SPEED}]`);
  // Found before any device connects, so a wrong --data fails at once.
  await stationFiles(dir, only).catch((error: Error) => fail(error.message));
  sensorIds = BEIJING_STATIONS.filter((s) => !only || only.includes(s.slug)).map(stationSensorId);
  const steps = replay({
    dir,
    speed,
    loop: !values.once,
    ...(fromDataTs === undefined ? {} : { fromDataTs }),
    ...(only ? { stations: only } : {}),
    signal: controller.signal,
  });
  source = (async function* stepsToBatches() {
    for await (const step of steps) yield step.readings;
  })();
} else {
  const sensors = number('sensors', values.sensors);
  const rate = number('rate', values.rate);
  const durationMs = (() => {
    try {
      return parseDuration(values.duration);
    } catch (error) {
      return fail((error as Error).message);
    }
  })();
  try {
    checkFleet({ sensors, rate, durationMs }); // before connecting a thousand devices, not after
  } catch (error) {
    fail((error as Error).message);
  }
  sensorIds = fleetSensorIds(sensors, values.prefix);
  source = fleet({
    sensors,
    rate,
    durationMs,
    prefix: values.prefix,
    seed: number('seed', values.seed),
    signal: controller.signal,
  });
}

const truth = truthWriter();
const started = performance.now();
console.log(JSON.stringify({ event: 'connecting', mode, url, devices: sensorIds.length, qos }));
const devices = await connectDevices(await credentials(sensorIds), {
  url,
  qos,
  signal: controller.signal,
  onWaiting: (sensorId, error) =>
    console.error(JSON.stringify({ event: 'waiting', sensorId, error: error.message })),
}).catch((error: Error) => fail(`could not connect: ${error.message}`));
console.log(JSON.stringify({ event: 'started', mode, truth: truth.path }));
const timer = setInterval(
  () =>
    console.log(
      JSON.stringify({
        event: 'progress',
        seconds: Math.round((performance.now() - started) / 1_000),
        ...devices.stats,
      }),
    ),
  5_000,
);
let sent = 0;
try {
  sent = await pump(source, devices, {
    ...(truth.filter ? { filter: truth.filter } : {}),
    maxInFlight: 10_000,
  });
} finally {
  clearInterval(timer);
  truth.close();
  await devices.close();
}
const seconds = (performance.now() - started) / 1_000;
console.log(
  JSON.stringify({
    event: 'done',
    sent,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Math.round(sent / seconds),
    ...devices.stats,
    truth: truth.path,
  }),
);
