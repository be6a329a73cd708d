import { mkdir } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const RESULTS_DIR = join(import.meta.dir, '..', 'bench', 'results');

/** Writes a benchmark's figures, with the machine they ran on, to bench/results/<name>-<time>.json. */
export async function writeReport(name: string, figures: Record<string, unknown>): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const at = new Date().toISOString();
  const file = join(RESULTS_DIR, `${name}-${at.replace(/[:.]/g, '-')}.json`);
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    bun: Bun.version,
  };
  await Bun.write(file, `${JSON.stringify({ bench: name, at, machine, ...figures }, null, 2)}\n`);
  return file;
}
