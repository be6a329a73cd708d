import type { SensorService } from '@sensormesh/registry';
import type { StreamFilter } from './model.ts';

/** What tag and bounding-box filters need of a sensor. */
export interface SensorPlace {
  id: string;
  tags: readonly string[];
  latitude: number;
  longitude: number;
}

const PAGE = 5_000;

/** True when the filter names sensors by tags or place, which only the registry can resolve. */
export const needsRegistry = (filter: StreamFilter | undefined) =>
  filter?.tags !== undefined || filter?.bbox !== undefined;

/** True when a point lies in [minLon, minLat, maxLon, maxLat]; minLon > maxLon wraps the antimeridian. */
export function inBox(bbox: readonly [number, number, number, number], lon: number, lat: number): boolean {
  const [minLon, minLat, maxLon, maxLat] = bbox;
  if (lat < minLat || lat > maxLat) return false;
  return minLon <= maxLon ? lon >= minLon && lon <= maxLon : lon >= minLon || lon <= maxLon;
}

/** The sensors among `places` a filter selects (tags: all of them; bbox; sensorIds). */
export function selectSensors(places: readonly SensorPlace[], filter: StreamFilter): Set<string> {
  const ids = filter.sensorIds ? new Set(filter.sensorIds) : undefined;
  const selected = new Set<string>();
  for (const place of places) {
    if (ids && !ids.has(place.id)) continue;
    if (filter.tags && !filter.tags.every((tag) => place.tags.includes(tag))) continue;
    if (filter.bbox && !inBox(filter.bbox, place.longitude, place.latitude)) continue;
    selected.add(place.id);
  }
  return selected;
}

/**
 * The registry's sensors (all but retired) for tag and bbox filters, read at most once per
 * `maxAgeMs` (the registry itself serves lists from Redis until a write, so this is cheap).
 */
export function sensorDirectory(sensors: SensorService, maxAgeMs: number) {
  let cached: { at: number; places: SensorPlace[] } | undefined;
  let loading: Promise<SensorPlace[]> | undefined;

  async function load(): Promise<SensorPlace[]> {
    const places: SensorPlace[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await sensors.list({ limit: PAGE, offset });
      for (const sensor of page.items) {
        if (sensor.status === 'retired') continue;
        places.push({
          id: sensor.id,
          tags: sensor.tags,
          latitude: sensor.latitude,
          longitude: sensor.longitude,
        });
      }
      if (page.items.length < PAGE || offset + PAGE >= page.total) break;
    }
    cached = { at: Date.now(), places };
    return places;
  }

  return {
    /** The sensors, reloaded when older than `maxAgeMs` (one load at a time). */
    async places(): Promise<SensorPlace[]> {
      if (cached && Date.now() - cached.at < maxAgeMs) return cached.places;
      loading ??= load().finally(() => {
        loading = undefined;
      });
      return loading;
    },
    /** Forgets the cache, so the next `places()` reads the registry. */
    invalidate(): void {
      cached = undefined;
    },
  };
}

/** The sensor directory. */
export type SensorDirectory = ReturnType<typeof sensorDirectory>;
