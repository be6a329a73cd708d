import { hashToken, opaqueToken, withLock } from '@sensormesh/auth';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import {
  findActiveRefreshTokens,
  findRefreshToken,
  findUserByEmail,
  findUserById,
  type RefreshTokenRow,
  type Store,
  saveRefreshTokens,
  saveUser,
  type UserRow,
} from '@sensormesh/store';
import type Redis from 'ioredis';
import type { Role } from '../access/model.ts';
import type { TokenPair, UserView } from './model.ts';
import { hashPassword, passwordWeakness, verifyPassword } from './passwords.ts';
import { loginThrottle, type ThrottleLimits } from './throttle.ts';
import type { AccessTokens } from './tokens.ts';

/** What the account service needs. */
export interface AuthServiceDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
  tokens: AccessTokens;
  refreshTtlS: number;
  throttle: ThrottleLimits;
}

/** The API's view of an account. */
export function userView(user: UserRow): UserView {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    status: user.status,
    createdAt: new Date(user.createdAt).toISOString(),
    updatedAt: new Date(user.updatedAt).toISOString(),
  };
}

const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** Accounts and sessions: registration, sign-in, refresh-token rotation with reuse detection. */
export function authService(deps: AuthServiceDeps) {
  const { store, redis, tokens } = deps;
  const throttle = loginThrottle(redis, deps.throttle);
  const log = deps.logger.child({ module: 'auth' });

  async function issue(
    user: UserRow,
    familyId: string = crypto.randomUUID(),
  ): Promise<{ pair: TokenPair; row: RefreshTokenRow }> {
    const refreshToken = opaqueToken('smr');
    const now = Date.now();
    const row: RefreshTokenRow = {
      tokenHash: hashToken(refreshToken),
      familyId,
      userId: user.id,
      status: 'active',
      issuedAt: now,
      expiresAt: now + deps.refreshTtlS * 1_000,
      replacedBy: '',
    };
    const accessToken = await tokens.sign(user);
    return {
      pair: { accessToken, tokenType: 'Bearer', expiresIn: tokens.ttlS, refreshToken, user: userView(user) },
      row,
    };
  }

  async function revokeTokens(rows: readonly RefreshTokenRow[]): Promise<void> {
    if (rows.length > 0)
      await saveRefreshTokens(store)(rows.map((row) => ({ ...row, status: 'revoked' as const })));
  }

  /** Creates an account; the email must be new and the password strong. */
  async function createUser(input: { email: string; password: string; role: Role }): Promise<UserRow> {
    const email = normalizeEmail(input.email);
    const weakness = passwordWeakness(input.password, email);
    if (weakness) {
      throw new AppError('VALIDATION_FAILED', `password ${weakness}`, {
        details: [{ path: '/password', message: weakness }],
      });
    }
    return withLock(redis, `lock:user-email:${email}`, async () => {
      if (await findUserByEmail(store)(email)) {
        throw new AppError('CONFLICT', 'an account with this email exists', { details: { field: 'email' } });
      }
      const now = Date.now();
      const user: UserRow = {
        id: crypto.randomUUID(),
        email,
        passwordHash: await hashPassword(input.password),
        role: input.role,
        status: 'active',
        createdAt: now,
        updatedAt: now,
      };
      await saveUser(store)(user);
      log.info({ userId: user.id, role: user.role }, 'account created');
      return user;
    });
  }

  /** Signs in; failures count against the account and the IP. */
  async function login(input: { email: string; password: string }, ip: string): Promise<TokenPair> {
    const email = normalizeEmail(input.email);
    await throttle.check(email, ip);
    const user = await findUserByEmail(store)(email);
    if (!(await verifyPassword(input.password, user?.passwordHash)) || !user) {
      await throttle.fail(email, ip);
      throw new AppError('UNAUTHORIZED', 'wrong email or password');
    }
    if (user.status !== 'active') throw new AppError('FORBIDDEN', 'this account is disabled');
    await throttle.succeed(email);
    const { pair, row } = await issue(user);
    await saveRefreshTokens(store)([row]);
    return pair;
  }

  /**
   * Rotates a refresh token. A token presented again after it was rotated means it was copied:
   * the whole family (that login's sessions) is revoked.
   */
  async function refresh(refreshToken: string): Promise<TokenPair> {
    const presented = await findRefreshToken(store)(hashToken(refreshToken));
    if (!presented) throw new AppError('UNAUTHORIZED', 'unknown refresh token');
    return withLock(redis, `lock:refresh-family:${presented.familyId}`, async () => {
      const current = (await findRefreshToken(store)(presented.tokenHash)) ?? presented;
      if (current.status === 'rotated') {
        await revokeTokens(await findActiveRefreshTokens(store)({ familyId: current.familyId }));
        log.warn(
          { userId: current.userId, familyId: current.familyId },
          'refresh token reused; family revoked',
        );
        throw new AppError(
          'UNAUTHORIZED',
          'refresh token was already used; every session of this sign-in is revoked',
        );
      }
      if (current.status === 'revoked') throw new AppError('UNAUTHORIZED', 'refresh token revoked');
      if (current.expiresAt <= Date.now()) throw new AppError('UNAUTHORIZED', 'refresh token expired');
      const user = await findUserById(store)(current.userId);
      if (user?.status !== 'active') {
        await revokeTokens([current]);
        throw new AppError('UNAUTHORIZED', 'account disabled');
      }
      const { pair, row } = await issue(user, current.familyId);
      await saveRefreshTokens(store)([row, { ...current, status: 'rotated', replacedBy: row.tokenHash }]);
      return pair;
    });
  }

  /** Ends a sign-in: its whole family of refresh tokens stops working. */
  async function logout(refreshToken: string): Promise<void> {
    const presented = await findRefreshToken(store)(hashToken(refreshToken));
    if (!presented) return;
    await revokeTokens(await findActiveRefreshTokens(store)({ familyId: presented.familyId }));
  }

  /** Changes role or status; both end every session, so no token keeps the old rights. */
  async function updateUser(
    id: string,
    change: { role?: Role; status?: UserRow['status'] },
  ): Promise<UserRow> {
    const user = await findUserById(store)(id);
    if (!user) throw new AppError('NOT_FOUND', 'no such user');
    const updated: UserRow = { ...user, ...change, updatedAt: Date.now() };
    await saveUser(store)(updated);
    if (change.status === 'disabled' || (change.role && change.role !== user.role)) {
      await tokens.revokeAllFor(id);
      await revokeTokens(await findActiveRefreshTokens(store)({ userId: id }));
    }
    log.info({ userId: id, ...change }, 'account updated');
    return updated;
  }

  /** Makes sure the configured first admin exists (never resets an existing password). */
  async function ensureAdmin(email: string | undefined, password: string | undefined): Promise<void> {
    if (!email || !password) {
      log.warn('ADMIN_EMAIL / ADMIN_PASSWORD not set: no admin account is created');
      return;
    }
    const existing = await findUserByEmail(store)(normalizeEmail(email));
    if (!existing) await createUser({ email, password, role: 'admin' });
    else if (existing.role !== 'admin' || existing.status !== 'active') {
      await updateUser(existing.id, { role: 'admin', status: 'active' });
    }
  }

  return { createUser, login, refresh, logout, updateUser, ensureAdmin, findUserById: findUserById(store) };
}

/** The account service. */
export type AuthService = ReturnType<typeof authService>;
