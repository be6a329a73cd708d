import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import type { SensorService } from '@sensormesh/registry';
import type { Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { IngestConfig } from './env.ts';
import type { IngestPipeline } from './pipeline.ts';
import type { SensorDirectory } from './sensor-directory.ts';

/** Everything ingest's ways in share. */
export interface IngestContext {
  config: IngestConfig;
  store: Store;
  /** Commands only; consumers and subscribers open their own connections. */
  redis: Redis;
  logger: Logger;
  registry: Registry;
  /** The sensor registry: device-key checks (always fresh) and sensor records. */
  sensors: SensorService;
  /** Cached sensor metadata for validating readings. */
  directory: SensorDirectory;
  pipeline: IngestPipeline;
}
