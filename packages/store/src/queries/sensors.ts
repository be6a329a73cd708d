import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, type Sql, sql, tuple } from '../sql.ts';
import type { Store } from '../store.ts';
import { nextVersion } from './versions.ts';

/** A sensor's lifecycle: pending (ordered, not yet pushing), active, retired. */
export const SensorStatus = t.Union([t.Literal('pending'), t.Literal('active'), t.Literal('retired')]);
export type SensorStatus = Static<typeof SensorStatus>;

/** A stored sensor (the registry's system of record). */
export const SensorRow = t.Object({
  id: t.String(),
  name: t.String(),
  kind: t.String(),
  manufacturer: t.String(),
  model: t.String(),
  latitude: t.Number(),
  longitude: t.Number(),
  site: t.String(),
  tags: t.Array(t.String()),
  metrics: t.Array(t.String()),
  status: SensorStatus,
  createdAt: t.Integer(),
  updatedAt: t.Integer(),
  createdBy: t.String(),
});
export type SensorRow = Static<typeof SensorRow>;

interface SensorRecord {
  id: string;
  name: string;
  kind: string;
  manufacturer: string;
  model: string;
  latitude: number;
  longitude: number;
  site: string;
  tags: string[];
  metrics: string[];
  status: SensorStatus;
  created_at: number;
  updated_at: number;
  created_by: string;
}

const toSensor = (row: SensorRecord): SensorRow => ({
  id: row.id,
  name: row.name,
  kind: row.kind,
  manufacturer: row.manufacturer,
  model: row.model,
  latitude: row.latitude,
  longitude: row.longitude,
  site: row.site,
  tags: row.tags,
  metrics: row.metrics,
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  createdBy: row.created_by,
});

// Rows go through the sql binder (not TSV) because tags and metrics are arrays of user text.
const SENSOR_INSERT = sql`INSERT INTO sensors (id, name, kind, manufacturer, model, latitude, longitude, site, tags, metrics, status, created_at, updated_at, created_by, version) VALUES`;

/** Writes a sensor (a new one, or a new version of an existing one). */
export function saveSensor(store: Store) {
  return async function saveSensor(sensor: SensorRow): Promise<void> {
    const values = tuple([
      sensor.id,
      sensor.name,
      sensor.kind,
      sensor.manufacturer,
      sensor.model,
      sensor.latitude,
      sensor.longitude,
      sensor.site,
      sensor.tags,
      sensor.metrics,
      sensor.status,
      sensor.createdAt,
      sensor.updatedAt,
      sensor.createdBy,
      nextVersion(),
    ]);
    await store.command(sql`${SENSOR_INSERT} ${values}`);
  };
}

const SENSOR_SELECT = sql`SELECT id, name, kind, manufacturer, model, latitude, longitude, site, tags, metrics, status, created_at, updated_at, created_by FROM sensors FINAL`;

/** The latest version of the sensor with this id, if any. */
export function findSensorById(store: Store) {
  return async function findSensorById(id: string): Promise<SensorRow | undefined> {
    const [row] = await store.query<SensorRecord>(sql`${SENSOR_SELECT} WHERE id = ${id} LIMIT 1`);
    return row && toSensor(row);
  };
}

/** The latest version of each sensor with one of these ids (ids with no sensor are left out). */
export function findSensorsByIds(store: Store) {
  return async function findSensorsByIds(ids: readonly string[]): Promise<SensorRow[]> {
    if (ids.length === 0) return [];
    const rows = await store.query<SensorRecord>(sql`${SENSOR_SELECT} WHERE id IN ${inList(ids)}`);
    return rows.map(toSensor);
  };
}

/** Filters for listing sensors; each given one must match. */
export interface SensorFilter {
  status?: SensorStatus;
  kind?: string;
  site?: string;
  tag?: string;
  limit: number;
  offset: number;
}

/** Sensors page by page, by name then id, with the total matching the filter. */
export function listSensors(store: Store) {
  return async function listSensors(filter: SensorFilter): Promise<{ items: SensorRow[]; total: number }> {
    const conditions: Sql[] = [sql`1`];
    if (filter.status) conditions.push(sql`status = ${filter.status}`);
    if (filter.kind) conditions.push(sql`kind = ${filter.kind}`);
    if (filter.site) conditions.push(sql`site = ${filter.site}`);
    if (filter.tag) conditions.push(sql`has(tags, ${filter.tag})`);
    const where = join(conditions, ' AND ');
    const [rows, count] = await Promise.all([
      store.query<SensorRecord>(
        sql`${SENSOR_SELECT} WHERE ${where} ORDER BY name, id LIMIT ${filter.limit} OFFSET ${filter.offset}`,
      ),
      store.query<{ n: number }>(sql`SELECT count() AS n FROM sensors FINAL WHERE ${where}`),
    ]);
    return { items: rows.map(toSensor), total: Number(count[0]?.n ?? 0) };
  };
}

/** A stored device key (only its hash); `version` orders a sensor's key changes. */
export interface DeviceKeyRow {
  sensorId: string;
  keyHash: string;
  prefix: string;
  status: 'active' | 'revoked';
  createdAt: number;
  revokedAt: number;
}

interface DeviceKeyRecord {
  sensor_id: string;
  key_hash: string;
  prefix: string;
  status: DeviceKeyRow['status'];
  created_at: number;
  revoked_at: number;
  version: number;
}

/** Writes device keys (a new one, a revoked old one) in one insert; returns the version written. */
export function saveDeviceKeys(store: Store) {
  return async function saveDeviceKeys(keys: readonly DeviceKeyRow[]): Promise<number> {
    // One version for the batch: a rotation's revoke and issue are one change.
    const version = nextVersion();
    const rows = keys.map((key) =>
      tuple([key.sensorId, key.keyHash, key.prefix, key.status, key.createdAt, key.revokedAt, version]),
    );
    await store.command(
      sql`INSERT INTO device_keys (sensor_id, key_hash, prefix, status, created_at, revoked_at, version) VALUES ${join(rows, ', ')}`,
    );
    return version;
  };
}

/** Every key a sensor was issued (latest versions), newest change first, with its version. */
export function listDeviceKeys(store: Store) {
  return async function listDeviceKeys(sensorId: string): Promise<Array<DeviceKeyRow & { version: number }>> {
    const rows = await store.query<DeviceKeyRecord>(
      sql`SELECT sensor_id, key_hash, prefix, status, created_at, revoked_at, version FROM device_keys FINAL WHERE sensor_id = ${sensorId} ORDER BY version DESC, created_at DESC`,
    );
    return rows.map((row) => ({
      sensorId: row.sensor_id,
      keyHash: row.key_hash,
      prefix: row.prefix,
      status: row.status,
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
      version: Number(row.version),
    }));
  };
}

/** The sensor whose active device key has this hash, if any (the key → sensor direction). */
export function findDeviceKeyOwner(store: Store) {
  return async function findDeviceKeyOwner(keyHash: string): Promise<string | undefined> {
    const [row] = await store.query<{ sensor_id: string }>(
      sql`SELECT sensor_id FROM device_keys FINAL WHERE key_hash = ${keyHash} AND status = 'active' LIMIT 1`,
    );
    return row?.sensor_id;
  };
}
