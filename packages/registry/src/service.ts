import { withLock } from '@sensormesh/auth';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import {
  findSensorById,
  listSensors,
  type SensorFilter,
  type SensorRow,
  type Store,
  saveSensor,
} from '@sensormesh/store';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type Redis from 'ioredis';
import { deviceKeys, type IssuedKey } from './device-keys.ts';
import { NewSensor, type SensorPatch } from './model.ts';

/** What the sensor registry needs. */
export interface SensorServiceDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
}

/** A page of sensors with the total matching the filter. */
export interface SensorListing {
  items: SensorRow[];
  total: number;
}

const GENERATION = 'sensors:generation';
const LIST_TTL_S = 60;
const BUMP =
  "if redis.call('exists', KEYS[1]) == 0 then redis.call('set', KEYS[1], ARGV[1]) end return redis.call('incr', KEYS[1])";
const checkNewSensor = TypeCompiler.Compile(NewSensor);
const lockKey = (id: string) => `lock:sensor:${id}`;

/** Throws VALIDATION_FAILED naming each bad field when a caller (HTTP or the order processor) passes a bad sensor. */
function validateNewSensor(input: unknown): asserts input is NewSensor {
  if (checkNewSensor.Check(input)) return;
  const details = [...checkNewSensor.Errors(input)]
    .slice(0, 20)
    .map((error) => ({ path: error.path, message: error.message }));
  throw new AppError('VALIDATION_FAILED', 'the sensor is invalid', { details });
}

/**
 * The sensor registry: ClickHouse is the record; every sensor gets a device key on creation. Lists
 * are cached in Redis under a generation number that every write bumps after its ClickHouse write,
 * so no replica serves a list older than the last finished write.
 */
export function sensorService(deps: SensorServiceDeps) {
  const { store, redis } = deps;
  const keys = deviceKeys(store, redis);
  const log = deps.logger.child({ module: 'sensors' });

  // A generation that Redis lost restarts from the clock, never from 0 or 1, so list entries that
  // outlived it (until their TTL) can never be mistaken for current ones.
  async function bump(): Promise<void> {
    await redis.eval(BUMP, 1, GENERATION, String(Date.now() * 1_000));
  }

  async function generation(): Promise<string> {
    const current = await redis.get(GENERATION);
    if (current !== null) return current;
    await redis.set(GENERATION, String(Date.now() * 1_000), 'NX');
    return (await redis.get(GENERATION)) ?? '0';
  }

  async function require(id: string): Promise<SensorRow> {
    const sensor = await findSensorById(store)(id);
    if (!sensor) throw new AppError('NOT_FOUND', 'no such sensor', { details: { id } });
    return sensor;
  }

  /** Registers a sensor (active unless told otherwise) and issues its first device key, shown once. */
  async function create(
    input: NewSensor,
    actorUserId: string,
    options: { status?: 'pending' | 'active' } = {},
  ): Promise<{ sensor: SensorRow; deviceKey: IssuedKey }> {
    validateNewSensor(input);
    const id = input.id ?? crypto.randomUUID();
    return withLock(redis, lockKey(id), async () => {
      if (await findSensorById(store)(id)) {
        throw new AppError('CONFLICT', 'a sensor with this id exists', { details: { field: 'id', id } });
      }
      const now = Date.now();
      const sensor: SensorRow = {
        id,
        name: input.name,
        kind: input.kind,
        manufacturer: input.manufacturer ?? '',
        model: input.model ?? '',
        latitude: input.latitude ?? 0,
        longitude: input.longitude ?? 0,
        site: input.site ?? '',
        tags: input.tags ?? [],
        metrics: input.metrics ?? [],
        status: options.status ?? 'active',
        createdAt: now,
        updatedAt: now,
        createdBy: actorUserId,
      };
      // The key first: a sensor row is never visible without a key that works.
      const deviceKey = await keys.issue(id);
      await saveSensor(store)(sensor);
      await bump();
      log.info({ sensorId: id, status: sensor.status, actor: actorUserId }, 'sensor created');
      return { sensor, deviceKey };
    });
  }

  /** The sensor, or NOT_FOUND. */
  function get(id: string): Promise<SensorRow> {
    return require(id);
  }

  /** A page of sensors matching the filter, served from Redis while no write happened since. */
  async function list(filter: SensorFilter): Promise<SensorListing> {
    const key = `sensors:list:${await generation()}:${JSON.stringify([
      filter.status ?? '',
      filter.kind ?? '',
      filter.site ?? '',
      filter.tag ?? '',
      filter.limit,
      filter.offset,
    ])}`;
    const cached = await redis.get(key);
    if (cached !== null) return JSON.parse(cached) as SensorListing;
    // The generation was read before the query, so a write racing with it only lands in an old entry.
    const listing = await listSensors(store)(filter);
    await redis.set(key, JSON.stringify(listing), 'EX', LIST_TTL_S);
    return listing;
  }

  /** Changes editable fields or moves between pending and active; retired sensors stay as they are. */
  async function update(id: string, patch: SensorPatch, actorUserId: string): Promise<SensorRow> {
    return withLock(redis, lockKey(id), async () => {
      const sensor = await require(id);
      if (sensor.status === 'retired') throw new AppError('CONFLICT', 'a retired sensor cannot change');
      const changed: SensorRow = {
        ...sensor,
        ...patch,
        updatedAt: Math.max(Date.now(), sensor.updatedAt + 1),
      };
      await saveSensor(store)(changed);
      await bump();
      log.info({ sensorId: id, fields: Object.keys(patch), actor: actorUserId }, 'sensor updated');
      return changed;
    });
  }

  /** Retires a sensor: it leaves the public list and its device key stops working at once. */
  async function retire(id: string, actorUserId: string): Promise<SensorRow> {
    return withLock(redis, lockKey(id), async () => {
      const sensor = await require(id);
      if (sensor.status === 'retired') return sensor;
      const retired: SensorRow = { ...sensor, status: 'retired', updatedAt: Date.now() };
      await keys.revokeAll(id);
      await saveSensor(store)(retired);
      await bump();
      log.info({ sensorId: id, actor: actorUserId }, 'sensor retired');
      return retired;
    });
  }

  /** Issues a new device key; the old one fails from the moment this returns, on every replica. */
  async function rotateDeviceKey(id: string, actorUserId: string): Promise<IssuedKey> {
    return withLock(redis, lockKey(id), async () => {
      const sensor = await require(id);
      if (sensor.status === 'retired') throw new AppError('CONFLICT', 'a retired sensor gets no keys');
      const issued = await keys.issue(id);
      log.info({ sensorId: id, prefix: issued.prefix, actor: actorUserId }, 'device key rotated');
      return issued;
    });
  }

  /** True when `rawKey` is the sensor's current device key (Redis hit on the hot path). */
  function verifyDeviceKey(sensorId: string, rawKey: string): Promise<boolean> {
    return keys.verify(sensorId, rawKey);
  }

  /** The sensor a raw device key belongs to, if it is any sensor's current key (a ClickHouse lookup). */
  function deviceKeyOwner(rawKey: string): Promise<string | undefined> {
    return keys.owner(rawKey);
  }

  return { create, get, list, update, retire, rotateDeviceKey, verifyDeviceKey, deviceKeyOwner };
}

/** The sensor registry service. */
export type SensorService = ReturnType<typeof sensorService>;
