import { type Static, t } from 'elysia';
import { API_KEY_SCOPES } from '../access/model.ts';

// UnionEnum keeps each scope literal in the static type (a Union built from a mapped array does not).
const Scope = t.UnionEnum(API_KEY_SCOPES);
const Time = t.String({ format: 'date-time', examples: ['2026-01-01T00:00:00.000Z'] });
const NullableTime = (description: string) => t.Union([Time, t.Null()], { description });

/** POST /api-keys: a name, the scopes, an optional expiry; admins may create for another account. */
export const ApiKeyCreateBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 200, examples: ['grafana export'] }),
    scopes: t.Array(Scope, { minItems: 1, uniqueItems: true, examples: [['read:analytics', 'export']] }),
    expiresAt: t.Optional(
      t.String({ format: 'date-time', description: 'must be in the future; omit for never' }),
    ),
    userId: t.Optional(t.String({ format: 'uuid', description: 'admins only: the owner of the key' })),
  },
  {
    additionalProperties: false,
    examples: [
      { name: 'grafana export', scopes: ['read:analytics', 'export'], expiresAt: '2026-12-31T00:00:00Z' },
    ],
  },
);
export type ApiKeyCreateBody = Static<typeof ApiKeyCreateBody>;

const KEY_EXAMPLE = {
  id: '4f1c2b9e-8d7a-4c3b-9e2f-1a2b3c4d5e6f',
  userId: '0b0e7c1e-6f1e-4c43-9a57-1f2b9a0c7d11',
  name: 'grafana export',
  prefix: 'smk_Q2x9LmT4',
  scopes: ['read:analytics', 'export'],
  status: 'active',
  createdAt: '2025-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: '2025-01-02T08:30:00.000Z',
};

/** An API key as listed: never the raw key or its hash. */
export const ApiKeyView = t.Object(
  {
    id: t.String(),
    userId: t.String(),
    name: t.String(),
    prefix: t.String({ description: 'the first characters of the key, to tell keys apart' }),
    scopes: t.Array(Scope),
    status: t.Union([t.Literal('active'), t.Literal('expired'), t.Literal('revoked')]),
    createdAt: Time,
    expiresAt: NullableTime('null: never expires'),
    revokedAt: NullableTime('null: not revoked'),
    lastUsedAt: NullableTime('null: never used; updated at most once a minute'),
  },
  { additionalProperties: false, examples: [KEY_EXAMPLE] },
);
export type ApiKeyView = Static<typeof ApiKeyView>;

/** A new API key: the raw key is in this response only. */
export const CreatedApiKey = t.Object(
  { ...ApiKeyView.properties, key: t.String({ description: 'the raw key; shown only now' }) },
  { additionalProperties: false, examples: [{ ...KEY_EXAMPLE, lastUsedAt: null, key: 'smk_Q2x9LmT4…' }] },
);
export type CreatedApiKey = Static<typeof CreatedApiKey>;

/** GET /api-keys: own keys; admins may name another account. */
export const ApiKeyQuery = t.Object(
  {
    userId: t.Optional(t.String({ format: 'uuid', description: 'admins only: whose keys' })),
    limit: t.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: t.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

/** A page of API keys. */
export const ApiKeyPage = t.Object({
  items: t.Array(ApiKeyView),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});
