import type { SensorService } from '@sensormesh/registry';
import type { GatewayDeps } from './deps.ts';
import type { accessControl } from './modules/access/index.ts';
import type { ApiKeyService } from './modules/api-keys/service.ts';
import type { AuthService } from './modules/auth/service.ts';
import type { AccessTokens } from './modules/auth/tokens.ts';
import type { StreamHub } from './modules/stream/hub.ts';

/** What every gateway module is built from: the process's deps plus the shared services. */
export interface GatewayContext extends GatewayDeps {
  /** The access-control plugin (the `access` route macro); `.use()` it in every module. */
  access: ReturnType<typeof accessControl>;
  tokens: AccessTokens;
  auth: AuthService;
  /** The sensor registry; `create` also issues the sensor's device key. */
  sensors: SensorService;
  /** API keys: create, list, revoke, and the verifier the access macro uses. */
  apiKeys: ApiKeyService;
  /** WebSocket streams: sessions, topics and the fan-out's position (`startStreamFanout` starts it). */
  streams: StreamHub;
}
