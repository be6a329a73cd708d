import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import type { Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { GatewayConfig } from './env.ts';

/** Everything the gateway's modules need from the process that mounts them. */
export interface GatewayDeps {
  config: GatewayConfig;
  store: Store;
  /** Commands only; consumers open their own connections. */
  redis: Redis;
  logger: Logger;
  registry: Registry;
}
