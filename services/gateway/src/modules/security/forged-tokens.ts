import { createHmac } from 'node:crypto';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (part: string) =>
  JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;

/** An HS256 JWT signed with `secret`, shaped like the gateway's access tokens unless `claims` say otherwise. */
export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const now = Date.now();
  const payload = {
    jti: crypto.randomUUID(),
    typ: 'access',
    iat: Math.floor(now / 1_000),
    iatMs: now,
    exp: Math.floor(now / 1_000) + 900,
    ...claims,
  };
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** The same claims with `alg: none` and no signature. */
export function unsigned(token: string): string {
  const [, payload] = token.split('.');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${payload}.`;
}

/** The token with its payload edited (e.g. `role: 'admin'`), keeping the original signature. */
export function tampered(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  return `${header}.${encode({ ...decode(payload ?? ''), ...changes })}.${signature}`;
}

/** The claims of a token, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  return decode(token.split('.')[1] ?? '');
}
