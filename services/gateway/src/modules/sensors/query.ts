import { SensorStatus } from '@sensormesh/registry';
import { t } from 'elysia';

// Elysia's t.Integer coerces query strings ("?limit=10"); a plain TypeBox integer would refuse them.
const Label = t.String({ minLength: 1, maxLength: 64 });
const Paging = {
  limit: t.Integer({ minimum: 1, maximum: 500, default: 50 }),
  offset: t.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
};

/** Filters for listing sensors. */
export const SensorQuery = t.Object(
  {
    status: t.Optional(SensorStatus),
    kind: t.Optional(Label),
    site: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    tag: t.Optional(Label),
    ...Paging,
  },
  { additionalProperties: false },
);

/** Public filters: the public only ever sees active sensors. */
export const PublicSensorQuery = t.Omit(SensorQuery, ['status'], { additionalProperties: false });
