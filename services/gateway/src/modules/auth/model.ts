import { type Static, t } from 'elysia';
import { Role } from '../access/model.ts';

export const Email = t.String({ format: 'email', maxLength: 254, examples: ['ana@example.org'] });
export const Password = t.String({ minLength: 1, maxLength: 256, examples: ['correct-horse-battery-42'] });

export const Credentials = t.Object(
  { email: Email, password: Password },
  {
    additionalProperties: false,
    examples: [{ email: 'ana@example.org', password: 'correct-horse-battery-42' }],
  },
);
export type Credentials = Static<typeof Credentials>;

export const RefreshBody = t.Object(
  { refreshToken: t.String({ minLength: 10, maxLength: 200 }) },
  { additionalProperties: false },
);

/** An account as the API shows it (never the password hash). */
export const UserView = t.Object(
  {
    id: t.String(),
    email: t.String(),
    role: Role,
    status: t.Union([t.Literal('active'), t.Literal('disabled')]),
    createdAt: t.String({ format: 'date-time' }),
    updatedAt: t.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type UserView = Static<typeof UserView>;

export const TokenPair = t.Object(
  {
    accessToken: t.String(),
    tokenType: t.Literal('Bearer'),
    expiresIn: t.Integer({ description: 'seconds until the access token expires' }),
    refreshToken: t.String({ description: 'opaque; rotated on every use' }),
    user: UserView,
  },
  { additionalProperties: false },
);
export type TokenPair = Static<typeof TokenPair>;
