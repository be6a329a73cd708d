import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AppError } from '@sensormesh/errors';

const FILE_NAME = /^exp_[0-9a-f]{32}(\.[0-9a-f]{8}\.part|\.(csv|ndjson|json|xlsx|parquet))$/;

/**
 * The export directory. File names are made here from the job id (never from a request) and every
 * path is resolved and checked to lie directly inside the directory before it is opened.
 */
export function exportFiles(directory: string) {
  const root = resolve(directory);

  /** The absolute path of a file in the directory; anything that is not one of our names is refused. */
  function pathOf(fileName: string): string {
    const path = resolve(root, fileName);
    if (!FILE_NAME.test(fileName) || dirname(path) !== root || join(root, fileName) !== path) {
      throw new AppError('NOT_FOUND', 'no such export file');
    }
    return path;
  }

  return {
    root,
    pathOf,
    /** The finished file of a job. */
    fileName: (jobId: string, extension: string) => `${jobId}.${extension}`,
    /** Where one attempt writes before the rename: its own name, so a late previous attempt cannot mix in. */
    partName: (jobId: string, attempt: string) => `${jobId}.${attempt}.part`,
    async ensure(): Promise<void> {
      await mkdir(root, { recursive: true, mode: 0o700 });
    },
    async remove(fileName: string): Promise<void> {
      await rm(pathOf(fileName), { force: true });
    },
    /**
     * Deletes files untouched for longer than `maxAgeMs`: parts left by a worker that died, and
     * finished files whose job record was lost. Live parts are written to all the time.
     */
    async sweep(maxAgeMs: { part: number; file: number }, now = Date.now()): Promise<string[]> {
      const removed: string[] = [];
      const names = await readdir(root).catch(() => [] as string[]);
      for (const name of names) {
        if (!FILE_NAME.test(name)) continue;
        const info = await stat(join(root, name)).catch(() => undefined);
        const maxAge = name.endsWith('.part') ? maxAgeMs.part : maxAgeMs.file;
        if (info?.isFile() && info.mtimeMs < now - maxAge) {
          await rm(join(root, name), { force: true });
          removed.push(name);
        }
      }
      return removed;
    },
  };
}
export type ExportFiles = ReturnType<typeof exportFiles>;
