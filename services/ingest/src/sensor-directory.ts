import { isAppError } from '@sensormesh/errors';
import type { SensorInfo } from '@sensormesh/readings';
import type { SensorService } from '@sensormesh/registry';

/** What ingest needs to know about a sensor to judge its readings. */
export interface SensorDirectory {
  /** The sensor's id and declared metrics, or undefined when it is unknown or retired. */
  get(sensorId: string): Promise<SensorInfo | undefined>;
}

/**
 * Sensor metadata for validation, cached per process for `ttlMs`: at tens of thousands of readings
 * a second the registry cannot be asked each time. Authentication never uses this cache (device
 * keys are checked by the registry itself, so a rotation takes effect at once); a newly declared
 * metric may take up to ttlMs to be accepted.
 */
export function sensorDirectory(sensors: SensorService, ttlMs = 10_000): SensorDirectory {
  const cache = new Map<string, { info: SensorInfo | undefined; until: number }>();
  const loading = new Map<string, Promise<SensorInfo | undefined>>();

  async function load(sensorId: string): Promise<SensorInfo | undefined> {
    // Only "no such sensor" is an answer worth caching; a store outage must surface as an error,
    // so MQTT withholds its PUBACK and the broker redelivers instead of the reading being refused.
    const sensor = await sensors.get(sensorId).catch((error: unknown) => {
      if (isAppError(error) && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    const info =
      sensor && sensor.status !== 'retired' ? { id: sensor.id, metrics: sensor.metrics } : undefined;
    cache.set(sensorId, { info, until: Date.now() + ttlMs });
    return info;
  }

  return {
    async get(sensorId) {
      const hit = cache.get(sensorId);
      if (hit && hit.until > Date.now()) return hit.info;
      let pending = loading.get(sensorId);
      if (!pending) {
        pending = load(sensorId).finally(() => loading.delete(sensorId));
        loading.set(sensorId, pending);
      }
      return pending;
    },
  };
}
