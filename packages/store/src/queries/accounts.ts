import { type Static, Type as t } from '@sinclair/typebox';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { nextVersion } from './versions.ts';

/** A stored account. */
export const UserRow = t.Object({
  id: t.String(),
  email: t.String(),
  passwordHash: t.String(),
  role: t.Union([t.Literal('professional'), t.Literal('admin')]),
  status: t.Union([t.Literal('active'), t.Literal('disabled')]),
  createdAt: t.Integer(),
  updatedAt: t.Integer(),
});
export type UserRow = Static<typeof UserRow>;

const USER_COLUMNS = [
  'id',
  'email',
  'password_hash',
  'role',
  'status',
  'created_at',
  'updated_at',
  'version',
];

interface UserRecord {
  id: string;
  email: string;
  password_hash: string;
  role: UserRow['role'];
  status: UserRow['status'];
  created_at: number;
  updated_at: number;
}

const toUser = (row: UserRecord): UserRow => ({
  id: row.id,
  email: row.email,
  passwordHash: row.password_hash,
  role: row.role,
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Writes a user (a new one, or a new version of an existing one). */
export function saveUser(store: Store) {
  return async function saveUser(user: UserRow): Promise<void> {
    await store.insert('users', USER_COLUMNS, [
      [
        user.id,
        user.email,
        user.passwordHash,
        user.role,
        user.status,
        user.createdAt,
        user.updatedAt,
        nextVersion(),
      ],
    ]);
  };
}

const USER_SELECT = sql`SELECT id, email, password_hash, role, status, created_at, updated_at FROM users FINAL`;

/** The latest version of the user with this (lower-cased) email, if any. */
export function findUserByEmail(store: Store) {
  return async function findUserByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await store.query<UserRecord>(sql`${USER_SELECT} WHERE email = ${email} LIMIT 1`);
    return row && toUser(row);
  };
}

/** The latest version of the user with this id, if any. */
export function findUserById(store: Store) {
  return async function findUserById(id: string): Promise<UserRow | undefined> {
    const [row] = await store.query<UserRecord>(sql`${USER_SELECT} WHERE id = ${id} LIMIT 1`);
    return row && toUser(row);
  };
}

/** Users page by page, newest first, with the total. */
export function listUsers(store: Store) {
  return async function listUsers(page: {
    limit: number;
    offset: number;
  }): Promise<{ items: UserRow[]; total: number }> {
    const rows = await store.query<UserRecord>(
      sql`${USER_SELECT} ORDER BY created_at DESC, id LIMIT ${page.limit} OFFSET ${page.offset}`,
    );
    const [count] = await store.query<{ n: number }>(sql`SELECT count() AS n FROM users FINAL`);
    return { items: rows.map(toUser), total: Number(count?.n ?? 0) };
  };
}

/** A stored refresh token (only its hash). */
export interface RefreshTokenRow {
  tokenHash: string;
  familyId: string;
  userId: string;
  status: 'active' | 'rotated' | 'revoked';
  issuedAt: number;
  expiresAt: number;
  replacedBy: string;
}

const TOKEN_COLUMNS = [
  'token_hash',
  'family_id',
  'user_id',
  'status',
  'issued_at',
  'expires_at',
  'replaced_by',
  'version',
];

/** Writes refresh tokens (new ones, or new versions: rotated, revoked). */
export function saveRefreshTokens(store: Store) {
  return async function saveRefreshTokens(tokens: readonly RefreshTokenRow[]): Promise<void> {
    await store.insert(
      'refresh_tokens',
      TOKEN_COLUMNS,
      tokens.map((token) => [
        token.tokenHash,
        token.familyId,
        token.userId,
        token.status,
        token.issuedAt,
        token.expiresAt,
        token.replacedBy,
        nextVersion(),
      ]),
    );
  };
}

interface TokenRecord {
  token_hash: string;
  family_id: string;
  user_id: string;
  status: RefreshTokenRow['status'];
  issued_at: number;
  expires_at: number;
  replaced_by: string;
}

const toToken = (row: TokenRecord): RefreshTokenRow => ({
  tokenHash: row.token_hash,
  familyId: row.family_id,
  userId: row.user_id,
  status: row.status,
  issuedAt: row.issued_at,
  expiresAt: row.expires_at,
  replacedBy: row.replaced_by,
});

const TOKEN_SELECT = sql`SELECT token_hash, family_id, user_id, status, issued_at, expires_at, replaced_by FROM refresh_tokens FINAL`;

/** The latest version of a refresh token by its hash. */
export function findRefreshToken(store: Store) {
  return async function findRefreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    const [row] = await store.query<TokenRecord>(
      sql`${TOKEN_SELECT} WHERE token_hash = ${tokenHash} LIMIT 1`,
    );
    return row && toToken(row);
  };
}

/** The still-active tokens of a family, or of every family of a user. */
export function findActiveRefreshTokens(store: Store) {
  return async function findActiveRefreshTokens(
    owner: { familyId: string } | { userId: string },
  ): Promise<RefreshTokenRow[]> {
    const where = 'familyId' in owner ? sql`family_id = ${owner.familyId}` : sql`user_id = ${owner.userId}`;
    const rows = await store.query<TokenRecord>(sql`${TOKEN_SELECT} WHERE ${where} AND status = 'active'`);
    return rows.map(toToken);
  };
}
