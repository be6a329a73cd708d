import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 of an opaque token; only hashes are stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fresh opaque token with a readable prefix (`smr_` refresh, `smk_` API key, `smd_` device key). */
export function opaqueToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
