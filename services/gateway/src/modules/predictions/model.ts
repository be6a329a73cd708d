import { FAULT_METRICS, WINDOW_HOURS } from '@sensormesh/models';
import { type Static, t } from 'elysia';

const Iso = t.String({ format: 'date-time' });
const SensorId = t.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
/** ISO-8601 or epoch ms, as every time the API accepts. */
const Time = t.Union([t.Integer({ minimum: 0 }), t.String({ format: 'date-time' })]);

const Quantiles = t.Object({ p10: t.Number(), p50: t.Number(), p90: t.Number() });
const AqiCategory = t.Object({ key: t.String(), name: t.String(), colour: t.String() });
const ForecastAqi = t.Union([
  t.Object({
    value: t.Integer(),
    category: AqiCategory,
    dominant: t.String(),
  }),
  t.Null(),
]);

/** One hour of a forecast: both targets' quantiles and the AQI of the median. */
export const ForecastHour = t.Object({
  hours: t.Integer({ description: 'hours after the origin' }),
  at: Iso,
  pm25: t.Union([Quantiles, t.Null()]),
  pm10: t.Union([Quantiles, t.Null()]),
  aqi: ForecastAqi,
});

/** A sensor's newest forecast. */
export const SensorForecast = t.Object({
  sensorId: t.String(),
  origin: Iso,
  modelVersion: t.String(),
  horizons: t.Array(ForecastHour),
});
export type SensorForecast = Static<typeof SensorForecast>;

export const CurrentQuery = t.Object(
  {
    hours: t.Optional(t.Integer({ minimum: 1, maximum: 72, default: 24, description: 'horizons to return' })),
    sensor: t.Optional(SensorId),
  },
  { additionalProperties: false },
);
export const CurrentForecasts = t.Object({
  generatedAt: Iso,
  standard: t.Literal('us-epa'),
  sensors: t.Array(SensorForecast),
});

export const HistoryQuery = t.Object(
  {
    sensor: SensorId,
    from: Time,
    to: Time,
    metric: t.Optional(t.Union([t.Literal('pm25'), t.Literal('pm10')])),
    role: t.Optional(t.Union([t.Literal('active'), t.Literal('shadow')])),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 5_000, default: 500 })),
  },
  { additionalProperties: false },
);

/** One stored forecast, with the model version that made it. */
export const StoredForecast = t.Object({
  id: t.String(),
  sensorId: t.String(),
  metric: t.String(),
  origin: Iso,
  model: t.String(),
  modelVersion: t.String(),
  role: t.String(),
  createdAt: Iso,
  horizons: t.Array(t.Object({ minutes: t.Integer(), p10: t.Number(), p50: t.Number(), p90: t.Number() })),
});
export const History = t.Object({
  sensorId: t.String(),
  from: Iso,
  to: Iso,
  forecasts: t.Array(StoredForecast),
});

// Loose on purpose: the scorer names the exact window, row and channel that is wrong.
const Row = t.Array(t.Union([t.Number(), t.Null()]), { maxItems: 64 });

/** A window to score: given values, or (with `sensorId` alone) the sensor's stored hours. */
export const PredictWindow = t.Object(
  {
    model: t.Optional(t.Union([t.Literal('forecast'), t.Literal('faults')], { default: 'forecast' })),
    sensorId: t.Optional(SensorId),
    origin: t.Optional(Time),
    values: t.Optional(
      t.Array(t.Union([Row, t.Number(), t.Null()]), {
        maxItems: 1_000,
        description:
          `forecast: ${WINDOW_HOURS} rows of 12 channels (pm25, pm10, so2, no2, co, o3, temp, pressure, dewpoint, ` +
          `rain, wind_speed, wind_dir), oldest first, no gaps. faults: ${WINDOW_HOURS} values of one metric (null = no reading).`,
      }),
    ),
    metric: t.Optional(t.UnionEnum(FAULT_METRICS, { description: 'faults: which metric `values` are' })),
    reference: t.Optional(
      t.Array(t.Union([Row, t.Number(), t.Null()]), {
        maxItems: 1_000,
        description:
          'the network reference (null = unknown): forecast, 72 rows of [pm25, pm10, pressure, dewpoint, wind_u, ' +
          'wind_v] (median of the other sensors’ PM; mean of the network’s weather, wind as u/v components, ' +
          'unknown under two other sensors), or of [pm25, pm10] alone (the weather then unknown; a model taking ' +
          'fewer channels gets the first ones); faults, 72 values of the metric (median of the other sensors). ' +
          'Without it the forecast model uses the sensor’s own values.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PredictWindow = Static<typeof PredictWindow>;

export const PredictBatch = t.Object(
  { windows: t.Array(PredictWindow, { minItems: 1, maxItems: 1_024 }) },
  { additionalProperties: false },
);

const FaultResult = t.Object({
  fault: t.Boolean(),
  kind: t.String(),
  score: t.Number(),
  probabilities: t.Record(t.String(), t.Number()),
});
export const PredictResult = t.Object({
  model: t.String(),
  modelVersion: t.String(),
  origin: t.Union([Iso, t.Null()]),
  sensorId: t.Union([t.String(), t.Null()]),
  forecast: t.Optional(t.Array(ForecastHour)),
  faults: t.Optional(FaultResult),
});
export type PredictResult = Static<typeof PredictResult>;
export const PredictBatchResult = t.Object({ results: t.Array(PredictResult) });

export const FeedbackBody = t.Object(
  {
    target: t.Union([t.Literal('prediction'), t.Literal('anomaly')]),
    id: t.String({ minLength: 1, maxLength: 256 }),
    verdict: t.Union([t.Literal('right'), t.Literal('wrong')]),
    kind: t.Optional(
      t.Union(
        ['none', 'spike', 'stuck', 'drift', 'dropout', 'out_of_range'].map((k) => t.Literal(k)),
        { description: 'for an anomaly: the fault it really was (none = not a fault)' },
      ),
    ),
    note: t.Optional(t.String({ maxLength: 1_000 })),
  },
  { additionalProperties: false },
);
export const FeedbackAck = t.Object({
  id: t.String(),
  target: t.String(),
  targetId: t.String(),
  sensorId: t.String(),
  verdict: t.String(),
  kind: t.Union([t.String(), t.Null()]),
  createdAt: Iso,
});

export const FaultsQuery = t.Object(
  { from: t.Optional(Time), to: t.Optional(Time), sensor: t.Optional(SensorId) },
  { additionalProperties: false },
);
export const FaultCounts = t.Object({
  from: Iso,
  to: Iso,
  total: t.Integer(),
  kinds: t.Array(
    t.Object({
      kind: t.String(),
      description: t.String(),
      count: t.Integer(),
      confirmed: t.Integer({ description: 'marked right by feedback' }),
      rejected: t.Integer({ description: 'marked wrong by feedback' }),
    }),
  ),
  bySensor: t.Record(t.String(), t.Integer()),
});
