import { AVERAGINGS, POLLUTANTS, STANDARD_IDS } from '@sensormesh/aqi';
import { SensorId } from '@sensormesh/registry';
import { type Static, t } from 'elysia';

/** An index id: `us-epa`, `eu-caqi` or `in-naqi`. */
export const StandardParam = t.UnionEnum(STANDARD_IDS);
const Pollutant = t.UnionEnum(POLLUTANTS);
const Averaging = t.UnionEnum(AVERAGINGS);
const Iso = t.String({ format: 'date-time', examples: ['2026-11-22T12:00:00.000Z'] });

/** online: reported within DASHBOARD_STALE_AFTER_S; stale: within DASHBOARD_OFFLINE_AFTER_S; else offline. */
export const SensorLiveStatus = t.Union([t.Literal('online'), t.Literal('stale'), t.Literal('offline')]);
export type SensorLiveStatus = Static<typeof SensorLiveStatus>;

/** One metric's latest value. */
export const LatestMetric = t.Object({
  value: t.Number(),
  /** The catalogue unit (packages/readings), `null` for a metric outside the catalogue. */
  unit: t.Union([t.String(), t.Null()]),
  ts: Iso,
});

/**
 * `hourly`: the average the standard defines, from hourly means (US: NowCast for PM). `latest`:
 * indicative, the latest value standing in for an average the hours do not support yet (a sensor
 * that started reporting less than two hours ago); never for offline sensors.
 */
const Basis = t.UnionEnum(['hourly', 'latest']);

const AqiCategory = t.Object({
  key: t.String({ examples: ['moderate'] }),
  name: t.String({ examples: ['Moderate'] }),
  colour: t.String({ pattern: '^#[0-9a-f]{6}$', examples: ['#ffff00'] }),
});

/** A sensor's index now, with the pollutants behind it. */
export const AqiView = t.Object({
  standard: StandardParam,
  value: t.Integer(),
  category: AqiCategory,
  dominant: Pollutant,
  /** The dominant pollutant's basis (see `Basis`): `latest` makes the whole index indicative. */
  basis: Basis,
  pollutants: t.Array(
    t.Object({
      pollutant: Pollutant,
      averaging: Averaging,
      concentration: t.Number(),
      unit: t.String({ examples: ['µg/m³', 'ppm', 'ppb'] }),
      index: t.Integer(),
      category: AqiCategory,
      extrapolated: t.Boolean(),
      basis: Basis,
    }),
  ),
});
export type AqiView = Static<typeof AqiView>;

const liveFields = {
  status: SensorLiveStatus,
  lastSeen: t.Union([Iso, t.Null()]),
  /** Whole seconds since the newest reading; `null` if the sensor never reported. */
  ageS: t.Union([t.Integer(), t.Null()]),
  values: t.Record(t.String(), LatestMetric),
  aqi: t.Union([AqiView, t.Null()]),
};

/** One sensor on the realtime dashboard. */
export const RealtimeSensor = t.Object({
  id: t.String(),
  name: t.String(),
  kind: t.String(),
  site: t.String(),
  latitude: t.Number(),
  longitude: t.Number(),
  tags: t.Array(t.String()),
  ...liveFields,
});
export type RealtimeSensor = Static<typeof RealtimeSensor>;

/** GET /dashboard/realtime. */
export const RealtimeSnapshot = t.Object({
  generatedAt: Iso,
  standard: StandardParam,
  /** When the hourly means behind `basis: hourly` were read; `null` if they could not be. */
  hourlyAsOf: t.Union([Iso, t.Null()]),
  thresholds: t.Object({ staleAfterS: t.Integer(), offlineAfterS: t.Integer() }),
  counts: t.Object({ online: t.Integer(), stale: t.Integer(), offline: t.Integer() }),
  sensors: t.Array(RealtimeSensor),
});
export type RealtimeSnapshot = Static<typeof RealtimeSnapshot>;

/** GET /sensors/:id/latest. */
export const SensorLatest = t.Object({ id: t.String(), standard: StandardParam, ...liveFields });
export type SensorLatest = Static<typeof SensorLatest>;

export const RealtimeQuery = t.Object(
  { standard: t.Optional(StandardParam) },
  { additionalProperties: false },
);
export const LatestParams = t.Object({ id: SensorId });
