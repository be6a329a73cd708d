import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceReading } from './replay.ts';

/** A device's MQTT credentials: username = sensor id, password = its device key. */
export interface DeviceCredential {
  sensorId: string;
  deviceKey: string;
}

/** Reads a devices file (`[{sensorId, deviceKey}]`), as written by the mesh's demo seeding. */
export async function readDevicesFile(path: string): Promise<DeviceCredential[]> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (item) =>
        typeof item === 'object' &&
        item !== null &&
        typeof item.sensorId === 'string' &&
        typeof item.deviceKey === 'string',
    );
  if (!valid) throw new Error(`${path}: expected a JSON array of {sensorId, deviceKey}`);
  return parsed as DeviceCredential[];
}

/** Writes a devices file readable by its owner only (it holds secrets), replacing it atomically. */
export async function writeDevicesFile(path: string, devices: readonly DeviceCredential[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(devices, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600); // the umask may have narrowed it, never widened; be explicit anyway
  await rename(temporary, path);
}

/** The JSON payload a device publishes to `sensors/{sensorId}/readings`. */
export const readingPayload = (reading: DeviceReading) =>
  JSON.stringify({
    ts: reading.ts,
    metrics: reading.metrics,
    messageId: `${reading.sensorId}:${reading.ts}`,
  });

/** The topic a device publishes its readings to. */
export const readingTopic = (sensorId: string) => `sensors/${sensorId}/readings`;

/** How the simulated devices connect. */
export interface DeviceOptions {
  url: string;
  qos: 0 | 1;
  /** Devices connected at once while starting up, so a thousand do not hit the broker together. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Told once per device when its first connection attempt fails (the broker may still be starting). */
  onWaiting?: (sensorId: string, error: Error) => void;
}

/** Counters of what the devices did. */
export interface DeviceStats {
  published: number;
  acked: number;
  /** Readings not sent because the device was offline (never queued: memory stays bounded). */
  dropped: number;
  errors: number;
  lastError?: string;
}

function connectOne(
  credential: { sensorId: string; deviceKey?: string },
  options: DeviceOptions,
): Promise<MqttClient> {
  const client = mqtt.connect(options.url, {
    clientId: `sim-${credential.sensorId}-${process.pid}`,
    username: credential.sensorId,
    ...(credential.deviceKey ? { password: credential.deviceKey } : {}),
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: 5_000,
    queueQoSZero: false,
  });
  return new Promise((resolve, reject) => {
    let warned = false;
    const onAbort = () => {
      client.end(true);
      reject(new Error('aborted while connecting'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('connect', () => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve(client);
    });
    client.on('error', (error) => {
      if (!warned) options.onWaiting?.(credential.sensorId, error);
      warned = true;
    });
  });
}

/**
 * One MQTT connection per device, as real devices have, with their own credentials (no password
 * when a device has no key: an anonymous broker). Resolves once every device is connected,
 * retrying each second until then; after that, a device that loses its broker reconnects by itself.
 */
export async function connectDevices(
  devices: ReadonlyArray<{ sensorId: string; deviceKey?: string }>,
  options: DeviceOptions,
) {
  const clients = new Map<string, MqttClient>();
  const stats: DeviceStats = { published: 0, acked: 0, dropped: 0, errors: 0 };
  const queue = [...devices];
  const workers = Array.from({ length: Math.min(options.concurrency ?? 50, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      clients.set(next.sensorId, await connectOne(next, options));
    }
  });
  try {
    await Promise.all(workers);
  } catch (error) {
    await Promise.all([...clients.values()].map((client) => client.endAsync(true)));
    throw error;
  }

  return {
    stats,
    /** Publishes one reading from its device; resolves when sent (QoS 0) or acknowledged (QoS 1). */
    async publish(reading: DeviceReading): Promise<void> {
      const client = clients.get(reading.sensorId);
      if (!client) throw new Error(`no connected device ${reading.sensorId}`);
      if (!client.connected) {
        stats.dropped++;
        return;
      }
      stats.published++;
      try {
        await client.publishAsync(readingTopic(reading.sensorId), readingPayload(reading), {
          qos: options.qos,
        });
        stats.acked++;
      } catch (error) {
        stats.errors++;
        stats.lastError = error instanceof Error ? error.message : String(error);
      }
    },
    /** Disconnects every device, waiting for in-flight QoS 1 acks unless `force`. */
    async close(force = false): Promise<void> {
      await Promise.all([...clients.values()].map((client) => client.endAsync(force)));
    },
  };
}

/** A set of connected simulated devices. */
export type Devices = Awaited<ReturnType<typeof connectDevices>>;
