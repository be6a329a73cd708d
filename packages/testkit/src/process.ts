import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/** A server process the testkit started, with its temporary data dir. */
export interface ServerHandle {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Thrown when a server binary is not installed, naming it and the package to install. */
export class MissingBinaryError extends Error {
  constructor(
    readonly binary: string,
    readonly debianPackage: string,
  ) {
    super(
      `${binary} not found on PATH: install it (apt-get install ${debianPackage}) or run scripts/test, which does`,
    );
    this.name = 'MissingBinaryError';
  }
}

/** Resolves a binary on PATH or in the sbin dirs Debian uses for daemons; throws MissingBinaryError. */
export function requireBinary(binary: string, debianPackage: string): string {
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin:/sbin`;
  const found = Bun.which(binary, { PATH: path });
  if (!found) throw new MissingBinaryError(binary, debianPackage);
  return found;
}

/** Asks the kernel for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Creates a fresh temporary directory for one server's data. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `sensormesh-${prefix}-`));
}

/** Polls `probe` until it resolves true, the process dies, or the deadline passes. */
export async function waitUntil(
  name: string,
  child: Subprocess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (code ${child.exitCode ?? child.signalCode}) before answering:\n${await logs()}`,
      );
    }
    if (await probe().catch(() => false)) return;
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not answer within ${timeoutMs} ms:\n${await logs()}`);
}

/**
 * Stops a child with SIGTERM (or `signal`), escalating to SIGKILL after `graceMs`, then removes its
 * data dir.
 */
export async function stopChild(
  child: Subprocess,
  dir: string,
  { graceMs = 5_000, signal = 'SIGTERM' as NodeJS.Signals } = {},
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}
