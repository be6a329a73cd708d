const COMMON = new Set([
  'password',
  'password1',
  'password123',
  '123456789012',
  'qwertyuiop',
  'letmein',
  'iloveyou',
  'admin',
  'welcome',
  'sensormesh',
]);

/** Why a password is too weak, or undefined when it is acceptable. */
export function passwordWeakness(password: string, email: string): string | undefined {
  if (password.length < 12) return 'must be at least 12 characters';
  if (!/[A-Za-z]/.test(password) || !/[^A-Za-z]/.test(password)) {
    return 'must mix letters with digits or symbols';
  }
  if (new Set(password).size < 6) return 'must use at least 6 different characters';
  const lower = password.toLowerCase();
  if (
    COMMON.has(lower) ||
    [...COMMON].some((word) => lower.startsWith(word) && lower.length < word.length + 4)
  ) {
    return 'is a commonly used password';
  }
  const local = email.split('@')[0]?.toLowerCase() ?? '';
  if (local.length >= 4 && lower.includes(local)) return 'must not contain the email name';
  return undefined;
}

/** Hashes with argon2id (Bun.password). */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id' });
}

// Verifying against this when the account does not exist keeps login time the same either way.
const DUMMY_HASH = Bun.password.hash('not-a-real-password-0', { algorithm: 'argon2id' });

/** Verifies a password against a stored hash, spending the same time when there is none. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  if (!hash) {
    await Bun.password.verify(password, await DUMMY_HASH);
    return false;
  }
  return Bun.password.verify(password, hash);
}
