import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** Content type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** A fresh registry; a process makes one and hands it to every library that counts. */
export function createRegistry(defaultLabels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  return registry;
}

/**
 * Returns the metric registered under `name`, creating it once. Libraries call this so that
 * two consumers in one process share a counter instead of failing on a duplicate name.
 */
export function metric<M extends Counter | Gauge | Histogram>(
  registry: Registry,
  name: string,
  create: (registers: Registry[]) => M,
): M {
  const existing = registry.getSingleMetric(name);
  return (existing as M | undefined) ?? create([registry]);
}
