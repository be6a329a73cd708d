import { SensorStatus } from '@sensormesh/store';
import { type Static, Type as t } from '@sinclair/typebox';

export { SensorStatus };

// Free text is stored verbatim (SQL and markup included): the binder and JSON make it inert.
const Text = (maxLength: number, example: string) =>
  t.String({ minLength: 1, maxLength, examples: [example] });
const Label = t.String({ minLength: 1, maxLength: 64 });

/** Sensor ids travel in MQTT topics and URLs, so they stay plain. */
export const SensorId = t.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$',
  examples: ['aq-beijing-dongsi-01'],
});

const Latitude = t.Number({ minimum: -90, maximum: 90, examples: [39.929] });
const Longitude = t.Number({ minimum: -180, maximum: 180, examples: [116.417] });
const Tags = t.Array(Label, { maxItems: 32, examples: [['outdoor', 'traffic']] });
const Metrics = t.Array(Label, { maxItems: 64, examples: [['pm25', 'pm10', 'no2']] });

const SENSOR_EXAMPLE = {
  id: 'aq-beijing-dongsi-01',
  name: 'Dongsi roadside',
  kind: 'air-quality',
  manufacturer: 'Sensormesh',
  model: 'SM-AQ1',
  latitude: 39.929,
  longitude: 116.417,
  site: 'beijing-dongsi',
  tags: ['outdoor', 'traffic'],
  metrics: ['pm25', 'pm10', 'no2'],
};

const editable = {
  name: Text(200, 'Dongsi roadside'),
  kind: Text(64, 'air-quality'),
  manufacturer: t.String({ maxLength: 200, examples: ['Sensormesh'] }),
  model: t.String({ maxLength: 200, examples: ['SM-AQ1'] }),
  latitude: Latitude,
  longitude: Longitude,
  site: t.String({ maxLength: 200, examples: ['beijing-dongsi'] }),
  tags: Tags,
  metrics: Metrics,
};

/** What creating a sensor takes (service input); the server fills the rest. */
export const NewSensor = t.Object(
  {
    id: t.Optional(SensorId),
    name: editable.name,
    kind: editable.kind,
    manufacturer: t.Optional(editable.manufacturer),
    model: t.Optional(editable.model),
    latitude: t.Optional(editable.latitude),
    longitude: t.Optional(editable.longitude),
    site: t.Optional(editable.site),
    tags: t.Optional(editable.tags),
    metrics: t.Optional(editable.metrics),
  },
  { additionalProperties: false },
);
export type NewSensor = Static<typeof NewSensor>;

/** POST /admin/sensors: like NewSensor, but an admin places the sensor on the map. */
export const SensorCreateBody = t.Object(
  {
    ...NewSensor.properties,
    latitude: editable.latitude,
    longitude: editable.longitude,
    status: t.Optional(t.Union([t.Literal('pending'), t.Literal('active')], { default: 'active' })),
  },
  { additionalProperties: false, examples: [SENSOR_EXAMPLE] },
);

/** PATCH /admin/sensors/:id: any editable field, or a status move between pending and active. */
export const SensorPatch = t.Object(
  {
    ...t.Partial(t.Omit(NewSensor, ['id'])).properties,
    status: t.Optional(t.Union([t.Literal('pending'), t.Literal('active')])),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ site: 'beijing-dongsi', status: 'active' }] },
);
export type SensorPatch = Static<typeof SensorPatch>;

/** A sensor as the public sees it: where it is and what it measures, never keys. */
export const PublicSensor = t.Object(
  {
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
    updatedAt: t.String({ format: 'date-time' }),
  },
  { additionalProperties: false, examples: [{ ...SENSOR_EXAMPLE, updatedAt: '2025-01-01T00:00:00.000Z' }] },
);
export type PublicSensor = Static<typeof PublicSensor>;

/** A sensor as admins see it. */
export const SensorView = t.Object(
  {
    ...PublicSensor.properties,
    status: SensorStatus,
    createdAt: t.String({ format: 'date-time' }),
    createdBy: t.String({ description: 'id of the account (or process) that created it' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        ...SENSOR_EXAMPLE,
        status: 'active',
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-01T00:00:00.000Z',
        createdBy: '0b0e7c1e-6f1e-4c43-9a57-1f2b9a0c7d11',
      },
    ],
  },
);
export type SensorView = Static<typeof SensorView>;

/** A device key, shown once when issued; only its hash is stored. */
export const IssuedDeviceKey = t.Object(
  {
    key: t.String({ description: 'the raw key; shown only now', examples: ['smd_3q2…'] }),
    prefix: t.String({ description: 'public prefix, to tell keys apart', examples: ['smd_3q2Xb7Lk'] }),
    createdAt: t.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type IssuedDeviceKey = Static<typeof IssuedDeviceKey>;

/** A new sensor with its first device key. */
export const CreatedSensor = t.Object(
  { sensor: SensorView, deviceKey: IssuedDeviceKey },
  { additionalProperties: false },
);
export type CreatedSensor = Static<typeof CreatedSensor>;

/** Filters for listing sensors (routes declare their own query schema, which HTTP coerces). */
export interface SensorQuery {
  status?: SensorStatus;
  kind?: string;
  site?: string;
  tag?: string;
  limit: number;
  offset: number;
}

/** A page of sensors. */
export const SensorPage = <T extends typeof PublicSensor | typeof SensorView>(item: T) =>
  t.Object({ items: t.Array(item), total: t.Integer(), limit: t.Integer(), offset: t.Integer() });
