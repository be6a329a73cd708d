export { type LockOptions, withLock } from './redis-lock.ts';
export { hashToken, opaqueToken } from './tokens.ts';
