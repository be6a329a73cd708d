import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

async function readOrCreate(path: string, make: () => string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const value = make();
    await writeFile(path, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

/**
 * The default mode needs no setup: a JWT secret and a first admin are generated once and kept
 * under DATA_DIR/secrets (mode 0600), unless the environment sets them. Production sets them.
 */
export async function withDefaultSecrets(
  dataDir: string,
  env: Record<string, string | undefined>,
): Promise<{ env: Record<string, string | undefined>; adminPasswordFile?: string }> {
  const dir = join(dataDir, 'secrets');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const filled = { ...env };
  filled.JWT_SECRET ||= await readOrCreate(join(dir, 'jwt-secret'), () =>
    randomBytes(48).toString('base64url'),
  );
  if (!filled.ADMIN_EMAIL && !filled.ADMIN_PASSWORD) {
    const adminPasswordFile = join(dir, 'admin-password');
    filled.ADMIN_EMAIL = 'admin@sensormesh.local';
    filled.ADMIN_PASSWORD = await readOrCreate(
      adminPasswordFile,
      () => `${randomBytes(18).toString('base64url')}-9`,
    );
    return { env: filled, adminPasswordFile };
  }
  return { env: filled };
}
