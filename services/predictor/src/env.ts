import { defineEnv, env } from '@sensormesh/config';

/** The predictor's settings; the mesh and a standalone predictor parse them once at start-up. */
export const PredictorEnv = defineEnv({
  PREDICTOR_CONSUMER: env.optional(
    env.string({
      description: 'name in the predictor group (default predictor-<hostname>); one per replica',
    }),
  ),
  PREDICTOR_BATCH_SIZE: env.int({
    minimum: 1,
    maximum: 50_000,
    default: 5_000,
    description: 'most readings per handler call (one Redis fold per call)',
  }),
  PREDICTOR_GRACE_MS: env.int({
    minimum: 0,
    maximum: 3_600_000,
    default: 120_000,
    description:
      'a sensor that sends nothing after an hour has that hour scored this long after it ended (one that ' +
      'reports in a later hour has it scored at once)',
  }),
  PREDICTOR_SWEEP_MS: env.int({
    minimum: 100,
    maximum: 600_000,
    default: 15_000,
    description: 'how often hours of silent sensors are looked for',
  }),
  PREDICTOR_MODEL_POLL_MS: env.int({
    minimum: 100,
    maximum: 3_600_000,
    default: 30_000,
    description: 'how often the model registry is read for a new active or shadow version',
  }),
  PREDICTOR_MODELS_DIR: env.optional(
    env.string({
      description: 'models seeded into an empty registry at start-up (default the repo’s models/)',
    }),
  ),
  PREDICTOR_VISIBILITY_TIMEOUT_MS: env.int({
    minimum: 1_000,
    maximum: 3_600_000,
    default: 60_000,
    description: 'a dead replica’s pending readings are taken over after this long idle',
  }),
  PREDICTOR_RETRY_MS: env.int({
    minimum: 1_000,
    maximum: 3_600_000,
    default: 60_000,
    description:
      'a closed hour whose scoring or publishing failed (or whose replica died) is scored again by a sweep this long after',
  }),
  PREDICTOR_MAX_ATTEMPTS: env.int({
    minimum: 1,
    maximum: 100,
    default: 5,
    description: 'retries of a closed hour before it is given up (logged and counted)',
  }),
});

/** Parsed predictor settings. */
export type PredictorConfig = typeof PredictorEnv.static;
