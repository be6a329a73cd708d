import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import type { SensorService } from '@sensormesh/registry';
import type { Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { GatewayConfig } from '../../env.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import { StreamHub } from './hub.ts';
import { streamMetrics } from './metrics.ts';
import { sensorDirectory } from './sensor-directory.ts';

/** Builds the process's stream hub (idle until `startStreamFanout` starts it). */
export function streamHub(deps: {
  config: GatewayConfig;
  redis: Redis;
  store: Store;
  logger: Logger;
  registry: Registry;
  tokens: AccessTokens;
  sensors: SensorService;
}): StreamHub {
  return new StreamHub({
    ...deps,
    directory: sensorDirectory(deps.sensors, deps.config.STREAM_SENSOR_REFRESH_MS),
    metrics: streamMetrics(deps.registry),
  });
}

export type { StreamHub } from './hub.ts';
