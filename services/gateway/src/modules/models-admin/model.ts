import { type Static, t } from 'elysia';

export const Task = t.Union([t.Literal('forecast'), t.Literal('faults')]);
export type Task = Static<typeof Task>;
export const Version = t.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const Iso = t.String({ format: 'date-time' });

const Port = t.Object({
  name: t.String({ minLength: 1, maxLength: 64 }),
  type: t.String({ minLength: 1, maxLength: 16 }),
  shape: t.Array(t.Union([t.Integer({ minimum: 1 }), t.String({ minLength: 1, maxLength: 16 })]), {
    maxItems: 8,
  }),
  description: t.String({ maxLength: 2_000 }),
  order: t.Optional(t.Array(t.String({ maxLength: 64 }), { maxItems: 64 })),
});

/** A model card as models/*.card.json holds it (models/src/card.ts), checked field by field. */
export const CardBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 64 }),
  version: Version,
  task: Task,
  file: t.String({ maxLength: 256 }),
  sha256: t.String({ pattern: '^[0-9a-f]{64}$' }),
  opset: t.Integer({ minimum: 1, maximum: 100 }),
  family: t.String({ maxLength: 2_000 }),
  inputs: t.Array(Port, { minItems: 1, maxItems: 16 }),
  outputs: t.Array(Port, { minItems: 1, maxItems: 16 }),
  normalisation: t.String({ maxLength: 4_000 }),
  training: t.Object({
    data: t.String({ maxLength: 1_000 }),
    from: t.String({ maxLength: 64 }),
    to: t.String({ maxLength: 64 }),
    tuneFrom: t.String({ maxLength: 64 }),
    seed: t.Integer(),
    command: t.String({ maxLength: 1_000 }),
  }),
  metrics: t.Unknown(),
  details: t.Record(t.String(), t.Unknown()),
});

/** One registered version. */
export const ModelView = t.Object({
  task: Task,
  version: t.String(),
  name: t.String(),
  sha256: t.String(),
  status: t.Union([t.Literal('active'), t.Literal('shadow'), t.Literal('candidate'), t.Literal('retired')]),
  source: t.String({ description: 'seed (models/ at start-up), upload or retrain' }),
  previous: t.Union([t.String(), t.Null()], { description: 'the version a roll-back returns to' }),
  createdBy: t.String(),
  createdAt: Iso,
  updatedAt: Iso,
  metrics: t.Unknown({
    description: 'what evaluation measured (the card’s metrics, or the retrain’s comparison)',
  }),
  card: t.Unknown(),
});
export type ModelView = Static<typeof ModelView>;

export const ModelList = t.Object({ models: t.Array(ModelView) });

/** multipart/form-data: the ONNX file and its card (JSON text). */
export const UploadBody = t.Object({
  model: t.File({ description: 'the ONNX graph' }),
  card: t.String({ minLength: 2, maxLength: 1_000_000, description: 'the model card, JSON' }),
});

export const VersionParams = t.Object({ task: Task, version: Version });
export const TaskParams = t.Object({ task: Task });

/** Live errors of forecasts whose outcomes have arrived, per version. */
export const Comparison = t.Object({
  task: t.Literal('forecast'),
  from: Iso,
  to: Iso,
  versions: t.Array(
    t.Object({
      version: t.String(),
      role: t.String(),
      /** Per horizon checked (hours) and target: forecasts with an outcome, MAE, share inside p10–p90. */
      errors: t.Array(
        t.Object({
          metric: t.String(),
          hours: t.Integer(),
          points: t.Integer(),
          mae: t.Union([t.Number(), t.Null()]),
          coverage: t.Union([t.Number(), t.Null()]),
        }),
      ),
    }),
  ),
});
export type Comparison = Static<typeof Comparison>;

export const CompareQuery = t.Object(
  { days: t.Optional(t.Integer({ minimum: 1, maximum: 90, default: 7 })) },
  { additionalProperties: false },
);

const Share = t.Union([t.Number({ minimum: 0, maximum: 1 }), t.Null()]);

/** A fault shadow run: flags per version, agreement per sensor-metric-hour, precision against feedback. */
export const FaultComparison = t.Object({
  task: t.Literal('faults'),
  from: Iso,
  to: Iso,
  shadow: t.Union([t.String(), t.Null()], { description: 'the shadow version compared (null: none)' }),
  versions: t.Array(
    t.Object({
      version: t.String(),
      role: t.Union([t.Literal('active'), t.Literal('shadow')], {
        description: 'its role in the run (a version activated mid-run shows as a second active one)',
      }),
      flags: t.Integer({ description: 'sensor-metric-hours it flagged while the shadow ran' }),
      byKind: t.Record(t.String(), t.Integer()),
      feedback: t.Object({
        judged: t.Integer({ description: 'its flags on hours people gave feedback on' }),
        confirmed: t.Integer({ description: 'of those, faults by the feedback' }),
        rejected: t.Integer(),
        precision: Share,
        kindPrecision: t.Union([t.Number(), t.Null()], {
          description: 'share of judged flags that also named the kind feedback gives',
        }),
        missed: t.Integer({ description: 'hours feedback confirms as faults that it did not flag' }),
      }),
    }),
  ),
  agreement: t.Union([
    t.Object({
      hours: t.Integer({ description: 'sensor-metric-hours either version flagged' }),
      both: t.Integer(),
      sameKind: t.Integer({ description: 'of `both`, those naming the same kind' }),
      activeOnly: t.Integer(),
      shadowOnly: t.Integer(),
    }),
    t.Null(),
  ]),
  disagreements: t.Array(
    t.Object({
      sensorId: t.String(),
      metric: t.String(),
      at: Iso,
      active: t.Union([t.String(), t.Null()]),
      activeScore: t.Union([t.Number(), t.Null()]),
      shadow: t.Union([t.String(), t.Null()]),
      shadowScore: t.Number(),
      value: t.Union([t.Number(), t.Null()]),
      expected: t.Union([t.Number(), t.Null()]),
    }),
    { description: 'the latest hours (up to 50) where only one flagged or the kinds differ' },
  ),
  truncated: t.Boolean({ description: 'the period held more verdicts than one comparison reads (200,000)' }),
});
export type FaultComparison = Static<typeof FaultComparison>;

export const FaultCompareQuery = t.Object(
  {
    days: t.Optional(t.Integer({ minimum: 1, maximum: 90, default: 7 })),
    shadow: t.Optional(
      t.String({ ...Version, description: 'an earlier shadow run to report (default: the current shadow)' }),
    ),
  },
  { additionalProperties: false },
);

/** POST /admin/models/:task/retrain. */
export const RetrainBody = t.Object(
  {
    days: t.Optional(
      t.Integer({
        minimum: 30,
        maximum: 1_200,
        default: 365,
        description: 'days of hourly data, ending at `until`',
      }),
    ),
    recentDays: t.Optional(
      t.Integer({
        minimum: 3,
        maximum: 90,
        default: 14,
        description: 'the last days, kept out of training: both versions are compared on them',
      }),
    ),
    tuneMonths: t.Optional(
      t.Integer({ minimum: 1, maximum: 12, default: 3, description: 'months before those kept for tuning' }),
    ),
    until: t.Optional(t.String({ format: 'date-time', description: 'end of the data (default now)' })),
    seed: t.Optional(t.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1 })),
    quick: t.Optional(t.Boolean({ default: false, description: 'small, fast settings (smoke tests)' })),
  },
  { additionalProperties: false },
);

/** A retrain job (kept 7 days in Redis). */
export const RetrainJob = t.Object({
  id: t.String(),
  task: Task,
  status: t.Union([t.Literal('running'), t.Literal('done'), t.Literal('failed')]),
  startedAt: Iso,
  finishedAt: t.Optional(Iso),
  requestedBy: t.String(),
  activeVersion: t.Union([t.String(), t.Null()]),
  data: t.Object({
    sensors: t.Integer(),
    from: Iso,
    to: Iso,
    recentFrom: Iso,
    feedbackApplied: t.Integer({
      description: 'hours confirmed as faults by feedback, left out of training',
    }),
    judgedForecasts: t.Optional(
      t.Integer({
        description:
          'forecasts of the recent days people marked right or wrong (forecast task): both versions are scored on them',
      }),
    ),
  }),
  version: t.Optional(t.String({ description: 'the new version, registered whether promoted or not' })),
  promoted: t.Optional(t.Boolean()),
  comparison: t.Optional(
    t.Object({
      candidate: t.Unknown(),
      active: t.Unknown(),
      judged: t.Optional(
        t.Unknown({
          description:
            'forecast task: both versions’ p50 MAE (µg/m³, every observed hour 1–72 h ahead) on the forecasts people marked wrong and right',
        }),
      ),
      better: t.Boolean(),
      criterion: t.String(),
    }),
  ),
  error: t.Optional(t.String()),
});
export type RetrainJob = Static<typeof RetrainJob>;
