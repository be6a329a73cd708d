import type { Logger } from '@sensormesh/log';
import type { SensorInfo } from '@sensormesh/readings';
import type { SensorRow } from '@sensormesh/store';

/** What ingest needs to know about a sensor to judge its readings. */
export interface SensorDirectory {
  /**
   * The sensor's id and declared metrics, or undefined when it is unknown or retired. Answers at
   * once (no promise) when the sensor is cached, which is the hot path of every message.
   */
  get(sensorId: string): SensorInfo | undefined | Promise<SensorInfo | undefined>;
}

/** Loads the current records of the sensors with these ids; missing ids have no sensor. */
export type SensorLoader = (ids: readonly string[]) => Promise<SensorRow[]>;

interface Entry {
  info: SensorInfo | undefined;
  /** Served as is until then; afterwards served while a refresh runs. */
  freshUntil: number;
  refreshing: boolean;
}

interface Waiter {
  resolve: (info: SensorInfo | undefined) => void;
  reject: (error: unknown) => void;
}

/** Ids per query: far under max_query_size even with 128-character ids. */
const IDS_PER_QUERY = 1_000;
/** After a failed refresh, a stale entry is tried again no sooner than this. */
const RETRY_MS = 1_000;

/**
 * Sensor metadata for validation, cached per process: at tens of thousands of readings a second the
 * registry cannot be asked each time. Every id missed or gone stale within one event-loop turn is
 * loaded by one query, and a stale entry keeps answering while its refresh runs, so a fleet costs
 * one query per `ttlMs` instead of one per sensor (1,000 sensors were 100 ClickHouse queries a
 * second). Authentication never uses this cache (device keys are checked by the registry itself,
 * so a rotation takes effect at once); a newly declared metric or a retirement may take up to
 * ttlMs (plus one refresh) to be seen. A failed refresh keeps the stale answer, so known sensors
 * keep flowing into the stream while ClickHouse is down; a sensor never seen fails instead, so MQTT
 * withholds its PUBACK and the broker redelivers rather than the reading being refused.
 */
export function sensorDirectory(load: SensorLoader, logger: Logger, ttlMs = 10_000): SensorDirectory {
  const cache = new Map<string, Entry>();
  const waiting = new Map<string, Waiter[]>();
  let queued = new Set<string>();
  let scheduled = false;

  async function refresh(ids: string[]): Promise<void> {
    const found = new Map<string, SensorInfo | undefined>();
    for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
      for (const sensor of await load(ids.slice(start, start + IDS_PER_QUERY))) {
        found.set(
          sensor.id,
          sensor.status === 'retired' ? undefined : { id: sensor.id, metrics: sensor.metrics },
        );
      }
    }
    const freshUntil = Date.now() + ttlMs;
    for (const id of ids) {
      const info = found.get(id);
      cache.set(id, { info, freshUntil, refreshing: false });
      for (const waiter of waiting.get(id) ?? []) waiter.resolve(info);
      waiting.delete(id);
    }
  }

  function flush(): void {
    scheduled = false;
    const ids = [...queued];
    queued = new Set();
    refresh(ids).catch((error: unknown) => {
      logger.warn({ err: error, sensors: ids.length }, 'sensor directory refresh failed');
      const retryAt = Date.now() + RETRY_MS;
      for (const id of ids) {
        const entry = cache.get(id);
        if (entry) {
          entry.refreshing = false;
          entry.freshUntil = retryAt;
        }
        for (const waiter of waiting.get(id) ?? []) waiter.reject(error);
        waiting.delete(id);
      }
    });
  }

  function enqueue(sensorId: string): void {
    queued.add(sensorId);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  }

  return {
    get(sensorId) {
      const entry = cache.get(sensorId);
      if (entry) {
        if (!entry.refreshing && entry.freshUntil <= Date.now()) {
          entry.refreshing = true;
          enqueue(sensorId);
        }
        return entry.info;
      }
      return new Promise<SensorInfo | undefined>((resolve, reject) => {
        const list = waiting.get(sensorId);
        if (list) list.push({ resolve, reject });
        else {
          waiting.set(sensorId, [{ resolve, reject }]);
          enqueue(sensorId);
        }
      });
    },
  };
}
