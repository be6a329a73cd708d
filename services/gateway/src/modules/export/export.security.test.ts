import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAppError } from '@sensormesh/errors';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { exportFiles } from './files.ts';
import { downloadLinks, linkKey } from './links.ts';
import type { ExportJobView } from './model.ts';
import { MINUTE, professional, readingRows, seed, send, T0, waitForJob } from './test-helpers.ts';
import { type ExportWorker, startExportWorker } from './worker.ts';

let gw: TestGateway;
let worker: ExportWorker | undefined;
let exportDir: string;
let owner: { token: string; id: string };
let job: ExportJobView;
afterAll(async () => {
  await worker?.stop();
  await gw?.close();
  if (exportDir) await rm(exportDir, { recursive: true, force: true });
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  exportDir = await mkdtemp(join(tmpdir(), 'sensormesh-exports-'));
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { EXPORT_DIR: exportDir },
  );
  worker = await startExportWorker(gw.ctx, { consumer: 'security' });
  owner = await professional(gw);
  await seed(gw.store, readingRows(1, ['pm25'], 50));
  const queued = await send(gw, 'POST', '/api/v1/data/export', {
    token: owner.token,
    body: { format: 'csv', from: T0, to: T0 + 50 * MINUTE, delivery: 'job' },
  });
  const { id } = (await queued.json()) as ExportJobView;
  await waitForJob(gw.redis, id, (event) => event.status === 'done');
  job = (await (
    await send(gw, 'GET', `/api/v1/data/export/jobs/${id}`, { token: owner.token })
  ).json()) as ExportJobView;
});

const links = () => downloadLinks(linkKey(gw.ctx.config));
const download = (url: string, token?: string) => send(gw, 'GET', url, token ? { token } : {});
const linkTo = (id: string, expires: number, signature: string) =>
  `/api/v1/data/export/jobs/${id}/download?expires=${expires}&signature=${signature}`;

describe('download links', () => {
  test('the owner downloads with the link; without credentials it is a 401', async () => {
    const url = job.download?.url ?? '';
    expect((await download(url, owner.token)).status).toBe(200);
    expect((await download(url)).status).toBe(401);
  });

  test('another user holding the link is refused, and cannot see the job either', async () => {
    const other = await professional(gw);
    const refused = await download(job.download?.url ?? '', other.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('not valid');
    expect((await send(gw, 'GET', `/api/v1/data/export/jobs/${job.id}`, { token: other.token })).status).toBe(
      404,
    );
    // A link signed for the other user's id still does not open the owner's job.
    const expires = Date.now() + 60_000;
    const forOther = links().sign({ jobId: job.id, userId: other.id, expiresAt: expires });
    expect((await download(linkTo(job.id, expires, forOther), other.token)).status).toBe(404);
  });

  test('a tampered, guessed or re-dated link is refused', async () => {
    const url = new URL(job.download?.url ?? '', 'http://localhost');
    const expires = Number(url.searchParams.get('expires'));
    const signature = url.searchParams.get('signature') ?? '';
    const last = signature.at(-1) === 'A' ? 'B' : 'A';
    const tampered = `${signature.slice(0, -1)}${last}`;
    expect((await download(linkTo(job.id, expires, tampered), owner.token)).status).toBe(403);
    expect((await download(linkTo(job.id, expires, 'x'.repeat(43)), owner.token)).status).toBe(403);
    expect((await download(linkTo(job.id, expires + 86_400_000, signature), owner.token)).status).toBe(403);
    expect((await download(linkTo(job.id, expires, signature.slice(0, 20)), owner.token)).status).toBe(422);
  });

  test('an expired link answers 410, even with a valid signature', async () => {
    const expires = Date.now() - 1;
    const signature = links().sign({ jobId: job.id, userId: owner.id, expiresAt: expires });
    const gone = await download(linkTo(job.id, expires, signature), owner.token);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('GONE');
  });

  test('signatures are compared exactly: a non-canonical encoding of the same bytes fails', () => {
    const claims = { jobId: job.id, userId: owner.id, expiresAt: 1 };
    const signature = links().sign(claims);
    expect(links().verify(claims, signature)).toBe(true);
    expect(links().verify({ ...claims, expiresAt: 2 }, signature)).toBe(false);
    expect(links().verify(claims, `${signature}=`)).toBe(false);
    expect(
      downloadLinks(Buffer.from('another key of thirty-two bytes or more')).verify(claims, signature),
    ).toBe(false);
  });
});

describe('paths cannot leave the export directory', () => {
  test('job ids that try to traverse are refused before any file is touched', async () => {
    const attempts = [
      '..%2F..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      `${job.id}%2F..%2F..%2Fsecret`,
      'exp_..%2F..%2F..%2Fetc%2Fpasswd',
      `exp_${'0'.repeat(31)}%00`,
    ];
    for (const id of attempts) {
      const response = await download(linkTo(id, Date.now() + 60_000, 'a'.repeat(43)), owner.token);
      expect([404, 422], id).toContain(response.status);
    }
    const dotted = await download(`/api/v1/data/export/jobs/../../../../etc/passwd`, owner.token);
    expect(dotted.status).toBe(404);
  });

  test('only server-made names resolve, and only inside the directory', () => {
    const files = exportFiles(exportDir);
    const good = files.fileName(job.id, 'csv');
    expect(files.pathOf(good)).toBe(join(files.root, good));
    for (const name of [
      '../etc/passwd',
      '/etc/passwd',
      `${good}/../../x`,
      `../${good}`,
      `${job.id}.sh`,
      `sub/${good}`,
      `${job.id}.csv\u0000.png`,
      '',
    ]) {
      let error: unknown;
      try {
        files.pathOf(name);
      } catch (caught) {
        error = caught;
      }
      expect(isAppError(error), name).toBe(true);
    }
  });
});
