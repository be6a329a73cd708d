import { hashToken } from '@sensormesh/auth';
import { AppError } from '@sensormesh/errors';
import type { IngestContext } from '../../context.ts';

/** A device key as the request carried it, and the sensor it claims to be (Basic auth username). */
export interface DeviceCredentials {
  key: string;
  sensorId?: string;
}

const OWNER_TTL_S = 60;
const ownerKey = (key: string) => `ingest:device-key:owner:${hashToken(key)}`;

/** Reads `Authorization: Bearer <key>`, `Authorization: Basic <sensorId:key>` or `X-Device-Key`. */
export function deviceCredentials(headers: Headers): DeviceCredentials | undefined {
  const authorization = headers.get('authorization')?.trim() ?? '';
  const [scheme = '', value = ''] = authorization.split(/\s+/, 2);
  if (scheme.toLowerCase() === 'bearer' && value) return { key: value };
  if (scheme.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { sensorId: decoded.slice(0, colon), key: decoded.slice(colon + 1) };
    if (colon === 0) return { key: decoded.slice(1) };
  }
  const header = headers.get('x-device-key')?.trim();
  return header ? { key: header } : undefined;
}

/** 401 for a request without any device key, before its body is read. */
export function requireCredentials(headers: Headers): DeviceCredentials {
  const credentials = deviceCredentials(headers);
  if (!credentials) {
    throw new AppError(
      'UNAUTHORIZED',
      'a device key is required (Authorization: Bearer smd_… or X-Device-Key)',
      {
        headers: { 'www-authenticate': 'Bearer realm="ingest", Basic realm="ingest"' },
      },
    );
  }
  return credentials;
}

/**
 * The sensor a raw key belongs to, for keys sent without a sensor id (vendor pushes) or for the
 * wrong one. The key → owner answer is cached for a minute (ClickHouse is asked once, not per
 * push); a cached owner is re-verified on the Redis hot path, so a rotated key fails at once.
 */
async function keyOwner(ctx: IngestContext, key: string): Promise<string | undefined> {
  const cached = await ctx.redis.get(ownerKey(key));
  if (cached !== null) {
    return cached !== '' && (await ctx.sensors.verifyDeviceKey(cached, key)) ? cached : undefined;
  }
  const owner = await ctx.sensors.deviceKeyOwner(key);
  await ctx.redis.set(ownerKey(key), owner ?? '', 'EX', OWNER_TTL_S);
  return owner;
}

/**
 * Authenticates a device as one sensor. The claim (Basic username, else the sensor the payload
 * names) is checked against the key on the hot path (a Redis hit). When that fails, the key's owner
 * is looked up: none → 401 (unknown sensor, wrong or revoked key: one answer, so ids and keys cannot
 * be probed apart); another sensor → 403, since the device is known but may not write there.
 */
export async function authenticateDevice(
  ctx: IngestContext,
  credentials: DeviceCredentials,
  claimed: string | undefined,
): Promise<string> {
  const claim = credentials.sensorId ?? claimed;
  if (claim !== undefined && (await ctx.sensors.verifyDeviceKey(claim, credentials.key))) return claim;
  const owner = await keyOwner(ctx, credentials.key);
  if (owner === undefined) {
    throw new AppError('UNAUTHORIZED', 'unknown sensor or wrong device key', {
      headers: { 'www-authenticate': 'Bearer realm="ingest"' },
    });
  }
  if (claim !== undefined && claim !== owner) {
    throw new AppError('FORBIDDEN', 'this device key belongs to another sensor', {
      details: { sensorId: claim },
    });
  }
  return owner;
}
