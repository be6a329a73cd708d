import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import { forecastable } from '@sensormesh/predictor';
import type { NewSensor, SensorService } from '@sensormesh/registry';
import {
  BEIJING_STATIONS,
  connectDevices,
  type DeviceCredential,
  type DeviceReading,
  type Devices,
  MAX_SPEED,
  pump,
  readDevicesFile,
  replay,
  STATION_METRICS,
  type Station,
  stationSensorId,
  writeDevicesFile,
} from '@sensormesh/simulator';

/** Who the registry records as creator of the demo sensors. */
export const DEMO_ACTOR = 'mesh-demo';
const STOP_GRACE_MS = 2_000;

/** Where the demo devices' keys live: DATA_DIR/secrets/demo-devices.json (mode 0600). */
export const demoDevicesFile = (dataDir: string) => join(dataDir, 'secrets', 'demo-devices.json');

/** The registry record of one Beijing station's demo sensor. */
export function demoSensor(station: Station): NewSensor {
  return {
    id: stationSensorId(station),
    name: `Beijing ${station.name}`,
    kind: 'air-quality',
    manufacturer: 'Sensormesh demo',
    model: 'Beijing replay',
    latitude: station.latitude,
    longitude: station.longitude,
    site: `beijing-${station.slug}`,
    tags: ['demo', 'beijing', 'outdoor'],
    metrics: [...STATION_METRICS],
  };
}

async function readKeys(path: string, logger: Logger): Promise<Map<string, string>> {
  if (!existsSync(path)) return new Map();
  try {
    return new Map((await readDevicesFile(path)).map((device) => [device.sensorId, device.deviceKey]));
  } catch (error) {
    logger.warn({ err: error, path }, 'demo key file unreadable; issuing new keys');
    return new Map();
  }
}

/**
 * Makes sure the 12 Beijing demo sensors exist (active) and that DATA_DIR/secrets/demo-devices.json
 * holds a working key for each. Keys are shown once by the registry, so a sensor whose key is lost
 * or no longer verifies (file deleted, store reset) gets a new one by rotation. A demo sensor an
 * admin retired stays retired and out of the replay. Returns the credentials of the live ones.
 */
export async function seedDemoSensors(deps: {
  sensors: SensorService;
  dataDir: string;
  logger: Logger;
}): Promise<DeviceCredential[]> {
  const { sensors, logger } = deps;
  const path = demoDevicesFile(deps.dataDir);
  const known = await readKeys(path, logger);
  const devices: DeviceCredential[] = [];
  let created = 0;
  let rotated = 0;
  for (const station of BEIJING_STATIONS) {
    const sensorId = stationSensorId(station);
    const existing = await sensors.get(sensorId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (!existing) {
      const { deviceKey } = await sensors.create(demoSensor(station), DEMO_ACTOR, { status: 'active' });
      devices.push({ sensorId, deviceKey: deviceKey.key });
      created++;
      continue;
    }
    if (existing.status === 'retired') {
      logger.warn({ sensorId }, 'demo sensor is retired; not replaying it');
      continue;
    }
    const key = known.get(sensorId);
    if (key !== undefined && (await sensors.verifyDeviceKey(sensorId, key))) {
      devices.push({ sensorId, deviceKey: key });
      continue;
    }
    const issued = await sensors.rotateDeviceKey(sensorId, DEMO_ACTOR);
    devices.push({ sensorId, deviceKey: issued.key });
    rotated++;
  }
  if (created > 0 || rotated > 0 || devices.length !== known.size) await writeDevicesFile(path, devices);
  logger.info({ sensors: devices.length, created, rotated, keyFile: path }, 'demo sensors ready');
  return devices;
}

/** What the demo replay needs. */
export interface DemoReplayOptions {
  devices: readonly DeviceCredential[];
  /** The Beijing station files (`PRSA_Data_*.csv.gz`). */
  dataPath: string;
  mqttUrl: string;
  speed: number;
  /** Past wall hours to fill with real hourly data before the live replay (DEMO_HISTORY_HOURS). */
  historyHours: number;
  /** The newest stored reading of the demo sensors since `from` (null: none): history is not sent twice. */
  newestStored: (sensorIds: string[], from: number) => Promise<number | null>;
  logger: Logger;
}

const HOUR_MS = 3_600_000;
const noWait = { now: () => 0, sleep: async () => undefined };

/** How far into the data the demo looks for a stretch every station can be forecast from. */
const HISTORY_SEARCH_HOURS = 24 * 60;

/**
 * `hours` consecutive data hours, one step per hour, and the data hour the live replay goes on
 * from: the first stretch whose last 72 hours every station can be forecast from under the
 * predictor's gap policy (the real data has days-long outages of single channels, e.g. NO2 at
 * Dingling in its first week), else the first `hours`. Read through the replay itself, without
 * waiting, so the history and the live replay see the same data.
 */
async function historyData(dir: string, stations: readonly string[], hours: number) {
  const steps: DeviceReading[][] = [];
  let first: DeviceReading[][] | undefined;
  let searched = 0;
  for await (const step of replay({ dir, speed: MAX_SPEED, stations, loop: false, clock: noWait })) {
    if (steps.length === hours) {
      const ids = [...new Set(steps.flat().map((reading) => reading.sensorId))];
      const complete = ids.every((id) =>
        forecastable(steps.map((readings) => readings.find((r) => r.sensorId === id)?.metrics ?? {})),
      );
      first ??= [...steps];
      if (complete || ++searched >= HISTORY_SEARCH_HOURS) {
        return complete ? { steps, next: step.dataTs } : { steps: first, next: undefined };
      }
      steps.shift();
    }
    steps.push(step.readings);
  }
  return { steps: first ?? steps, next: undefined };
}

/**
 * History for the demo: the data hours before the live replay's start, re-timed one data hour
 * to one past wall hour and ending with the last full hour, so the charts have days to show and the
 * predictor a full 72-hour window (forecasts within seconds of a first start, not three days). Hours
 * already stored (a restart) are not sent again. Yields nothing when there is nothing to fill.
 */
async function* historyThenLive(
  options: DemoReplayOptions,
  stations: readonly string[],
  signal: AbortSignal,
): AsyncGenerator<readonly DeviceReading[]> {
  const current = Math.floor(Date.now() / HOUR_MS);
  let liveFrom: number | undefined;
  if (options.historyHours > 0) {
    const { steps, next } = await historyData(options.dataPath, stations, options.historyHours);
    liveFrom = next;
    const since = (current - steps.length) * HOUR_MS;
    const newest = await options.newestStored(
      options.devices.map((device) => device.sensorId),
      since,
    );
    const fillFrom = newest === null ? current - steps.length : Math.floor(newest / HOUR_MS) + 1;
    const missing = Math.max(0, current - fillFrom);
    const sent = steps.slice(steps.length - missing);
    sent.forEach((readings, i) => {
      const ts = (current - sent.length + i) * HOUR_MS;
      for (const reading of readings) reading.ts = ts;
    });
    options.logger.info(
      { hours: sent.length, from: new Date((current - sent.length) * HOUR_MS).toISOString() },
      'demo history sent before the live replay',
    );
    for (const readings of sent) {
      if (signal.aborted) return;
      yield readings;
    }
  }
  let loop = 0;
  for await (const step of replay({
    dir: options.dataPath,
    speed: options.speed,
    stations,
    signal,
    ...(liveFrom === undefined ? {} : { fromDataTs: liveFrom }),
  })) {
    if (step.loop !== loop) {
      loop = step.loop;
      options.logger.info({ loop }, 'demo replay wrapped around');
    }
    yield step.readings;
  }
}

/**
 * Replays the stations through the broker as the demo devices, looping for as long as the mesh
 * runs, at QoS 1 so the broker's acks pace it. `stop()` ends it (Ctrl-C) before the broker closes.
 */
export function startDemoReplay(options: DemoReplayOptions): { stop(): Promise<void> } {
  const { logger } = options;
  const controller = new AbortController();
  let devices: Devices | undefined;
  const running = (async () => {
    devices = await connectDevices(options.devices, {
      url: options.mqttUrl,
      qos: 1,
      signal: controller.signal,
      onWaiting: (sensorId, error) =>
        logger.warn(
          { sensorId, err: error, url: options.mqttUrl },
          'demo device cannot connect yet; retrying',
        ),
    });
    const only = options.devices.map((device) => device.sensorId.replace(/^aq-beijing-/, ''));
    logger.info(
      {
        stations: only.length,
        speed: options.speed,
        secondsPerDataHour: 3_600 / options.speed,
        historyHours: options.historyHours,
      },
      'demo replay started',
    );
    await pump(historyThenLive(options, only, controller.signal), devices, { maxInFlight: 1_000 });
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) logger.error({ err: error }, 'demo replay stopped');
  });
  return {
    async stop() {
      controller.abort();
      // Acks normally come in milliseconds; a broker that went away must not hold up the shutdown.
      const grace = Bun.sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
      const outcome = await Promise.race([running.then(() => 'done' as const), grace]);
      await devices?.close(outcome === 'timeout');
      if (devices) logger.info({ ...devices.stats }, 'demo replay stopped');
    },
  };
}

/** What the mesh hands the demo. */
export interface DemoDeps {
  sensors: SensorService;
  dataDir: string;
  /** DEMO_DATA, resolved. */
  dataPath: string;
  speed: number;
  /** DEMO_HISTORY_HOURS. */
  historyHours: number;
  newestStored: DemoReplayOptions['newestStored'];
  mqttUrl: string;
  /** Resolves once the broker takes connections; the replay waits for it. */
  brokerReady: Promise<void>;
  logger: Logger;
}

/**
 * The default mode's demo, in the background so start-up never waits for it: once the broker is
 * ready, seed the demo sensors, then replay the Beijing stations through it until `stop()`.
 */
export function startDemo(deps: DemoDeps): { stop(): Promise<void> } {
  const logger = deps.logger.child({ module: 'demo' });
  const controller = new AbortController();
  const aborted = new Promise<void>((resolve) =>
    controller.signal.addEventListener('abort', () => resolve()),
  );
  let replaying: { stop(): Promise<void> } | undefined;
  const starting = (async () => {
    await Promise.race([deps.brokerReady, aborted]); // a broker that never comes must not hold up Ctrl-C
    if (controller.signal.aborted) return;
    const devices = await seedDemoSensors({ sensors: deps.sensors, dataDir: deps.dataDir, logger });
    if (!existsSync(deps.dataPath)) {
      logger.warn({ dataPath: deps.dataPath }, 'demo data not found (DEMO_DATA); sensors seeded, no replay');
      return;
    }
    if (controller.signal.aborted || devices.length === 0) return;
    replaying = startDemoReplay({ ...deps, devices, logger });
  })().catch((error: unknown) =>
    logger.error({ err: error }, 'demo start-up failed; the mesh runs on without it'),
  );
  return {
    async stop() {
      controller.abort();
      await starting;
      await replaying?.stop();
    },
  };
}
