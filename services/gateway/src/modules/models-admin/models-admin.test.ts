import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { cardFor, repoModel, upload } from './test-helpers.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let admin: string;
let professional: string;
let forecast: Awaited<ReturnType<typeof repoModel>>;
let faults: Awaited<ReturnType<typeof repoModel>>;

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'pro@example.org', password: 'river-stone-4821' },
  });
  professional = (await gw.login('pro@example.org', 'river-stone-4821')).accessToken;
  forecast = await repoModel('forecast');
  faults = await repoModel('faults');
}, 30_000);
afterAll(() => gw?.close());

const registered = async () =>
  Number((await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM models`))[0]?.n ?? 0);
const files = async () =>
  Number((await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM model_files`))[0]?.n ?? 0);

/** Runs `work` and asserts it registered no version and stored no file. */
async function registersNothing(work: () => Promise<void>): Promise<void> {
  const before = [await registered(), await files()];
  await work();
  expect([await registered(), await files()]).toEqual(before);
}

const statuses = async () => {
  const { json } = await gw.call('GET', '/api/v1/admin/models', { token: admin });
  return Object.fromEntries(
    (json.models as { task: string; version: string; status: string }[]).map((m) => [
      `${m.task}:${m.version}`,
      m.status,
    ]),
  );
};

describe('who may call', () => {
  test('only admins: no credentials 401, a professional 403, nothing registered', async () => {
    await registersNothing(async () => {
      const card = cardFor(forecast.card, {});
      expect((await upload(gw, undefined, forecast.bytes, card)).status).toBe(401);
      expect((await upload(gw, professional, forecast.bytes, card)).status).toBe(403);
      expect((await gw.call('GET', '/api/v1/admin/models', { token: professional })).status).toBe(403);
      expect(
        (await gw.call('POST', '/api/v1/admin/models/forecast/rollback', { token: professional })).status,
      ).toBe(403);
    });
  });
});

describe('bad uploads get a 422 naming the problem, and nothing is registered or served', () => {
  test('a file that is not an ONNX model', async () => {
    const junk = new TextEncoder().encode('this is not a protobuf graph at all');
    await registersNothing(async () => {
      const response = await upload(
        gw,
        admin,
        junk,
        cardFor(forecast.card, { version: 'junk-1', bytes: junk }),
      );
      expect(response.status).toBe(422);
      expect(response.json.error).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(response.json.error.message).toContain('not an ONNX model');
    });
  });

  test('a card that does not match its graph (the fault graph under a forecast card)', async () => {
    await registersNothing(async () => {
      const response = await upload(
        gw,
        admin,
        faults.bytes,
        cardFor(forecast.card, { version: 'mixup-1', bytes: faults.bytes }),
      );
      expect(response.status).toBe(422);
      expect(response.json.error.message).toContain('are not the card');
    });
  });

  test('a card whose sha256 is not the file’s', async () => {
    await registersNothing(async () => {
      const response = await upload(
        gw,
        admin,
        forecast.bytes,
        cardFor(forecast.card, { version: 'x', bytes: faults.bytes }),
      );
      expect(response.status).toBe(422);
      expect(response.json.error.message).toContain('sha256');
    });
  });

  test('a card that is not JSON, or lacks fields, or breaks the channel contract', async () => {
    await registersNothing(async () => {
      const notJson = await upload(gw, admin, forecast.bytes, '{ not json');
      expect(notJson.status).toBe(422);
      expect(notJson.json.error.message).toContain('not JSON');
      const { task: _task, ...noTask } = forecast.card;
      const missing = await upload(gw, admin, forecast.bytes, JSON.stringify(noTask));
      expect(missing.status).toBe(422);
      expect(missing.json.error.details.some((d: { path: string }) => d.path === '/task')).toBe(true);
      const inputs = structuredClone(forecast.card.inputs) as { name: string; order?: string[] }[];
      (inputs[0] as { order: string[] }).order = [
        ...((inputs[0] as { order: string[] }).order ?? []),
      ].reverse();
      const reordered = await upload(gw, admin, forecast.bytes, JSON.stringify({ ...forecast.card, inputs }));
      expect(reordered.status).toBe(422);
      expect(reordered.json.error.message).toContain('order must be');
    });
  });

  test('the forecast reference: 6 channels or the older 2 (PM alone), in the catalogue order; the graph must say the same', async () => {
    await registersNothing(async () => {
      const withReference = (shape: unknown[], order: string[]) =>
        JSON.stringify({
          ...forecast.card,
          inputs: (forecast.card.inputs as { name: string }[]).map((input) =>
            input.name === 'reference' ? { ...input, shape, order } : input,
          ),
        });
      const three = await upload(
        gw,
        admin,
        forecast.bytes,
        withReference(['N', 72, 3], ['pm25', 'pm10', 'pressure']),
      );
      expect(three.status).toBe(422);
      expect(three.json.error.message).toContain('reference must be float32 [N, 72, 2] or [N, 72, 6]');
      const swapped = await upload(gw, admin, forecast.bytes, withReference(['N', 72, 2], ['pm10', 'pm25']));
      expect(swapped.status).toBe(422);
      expect(swapped.json.error.message).toContain('reference order must be pm25, pm10');
      // The older form passes the card's contract; this graph takes 6 channels, so the graph check refuses it.
      const older = await upload(gw, admin, forecast.bytes, withReference(['N', 72, 2], ['pm25', 'pm10']));
      expect(older.status).toBe(422);
      expect(older.json.error.message).toContain("the graph's reference does not match the card");
    });
  });
});

describe('registry', () => {
  test('upload registers a candidate; activate, a second version, roll back', async () => {
    const first = await upload(gw, admin, forecast.bytes, cardFor(forecast.card, { version: 'f-1' }));
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      task: 'forecast',
      version: 'f-1',
      status: 'candidate',
      source: 'upload',
    });
    expect((await upload(gw, admin, forecast.bytes, cardFor(forecast.card, { version: 'f-1' }))).status).toBe(
      409,
    );

    const activated = await gw.call('POST', '/api/v1/admin/models/forecast/f-1/activate', { token: admin });
    expect(activated.status).toBe(200);
    expect(activated.json).toMatchObject({ status: 'active', previous: null });
    // Nothing active before f-1: there is nothing to roll back to.
    expect((await gw.call('POST', '/api/v1/admin/models/forecast/rollback', { token: admin })).status).toBe(
      409,
    );

    expect((await upload(gw, admin, forecast.bytes, cardFor(forecast.card, { version: 'f-2' }))).status).toBe(
      201,
    );
    const second = await gw.call('POST', '/api/v1/admin/models/forecast/f-2/activate', { token: admin });
    expect(second.json).toMatchObject({ status: 'active', previous: 'f-1' });
    expect(await statuses()).toMatchObject({ 'forecast:f-1': 'retired', 'forecast:f-2': 'active' });

    const back = await gw.call('POST', '/api/v1/admin/models/forecast/rollback', { token: admin });
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({ version: 'f-1', status: 'active' });
    expect(await statuses()).toMatchObject({ 'forecast:f-1': 'active', 'forecast:f-2': 'retired' });

    const unknown = await gw.call('POST', '/api/v1/admin/models/forecast/nope/activate', { token: admin });
    expect(unknown.status).toBe(404);
  });

  test('shadow a candidate beside the active version, compare, stop the shadow', async () => {
    const shadowed = await gw.call('POST', '/api/v1/admin/models/forecast/f-2/shadow', { token: admin });
    expect(shadowed.json).toMatchObject({ version: 'f-2', status: 'shadow' });
    expect((await gw.call('POST', '/api/v1/admin/models/forecast/f-1/shadow', { token: admin })).status).toBe(
      409,
    );
    const compared = await gw.call('GET', '/api/v1/admin/models/forecast/compare?days=3', { token: admin });
    expect(compared.status).toBe(200);
    expect(
      compared.json.versions.map((v: { version: string; role: string }) => [v.version, v.role]).sort(),
    ).toEqual([
      ['f-1', 'active'],
      ['f-2', 'shadow'],
    ]);
    const stopped = await gw.call('DELETE', '/api/v1/admin/models/forecast/shadow', { token: admin });
    expect(stopped.json.models).toMatchObject([{ version: 'f-2', status: 'candidate' }]);
  });

  test('the fault model registers with its threshold checked by a test run', async () => {
    const response = await upload(gw, admin, faults.bytes, cardFor(faults.card, {}));
    expect(response.status).toBe(201);
    expect(response.json).toMatchObject({ task: 'faults', status: 'candidate' });
  });

  test('fault comparison: admins only; none without a shadow; a shadow with no verdicts yet; unknown run 404', async () => {
    const path = '/api/v1/admin/models/faults/compare';
    expect((await gw.call('GET', path, { token: professional })).status).toBe(403);
    expect((await gw.call('GET', `${path}?days=0`, { token: admin })).status).toBe(422);
    expect((await gw.call('GET', `${path}?shadow=nope`, { token: admin })).status).toBe(404);
    const none = await gw.call('GET', `${path}?days=3`, { token: admin });
    expect(none.status).toBe(200);
    expect(none.json).toMatchObject({ task: 'faults', shadow: null, versions: [], agreement: null });

    const version = String(faults.card.version);
    expect(
      (await gw.call('POST', `/api/v1/admin/models/faults/${version}/shadow`, { token: admin })).status,
    ).toBe(200);
    const started = await gw.call('GET', path, { token: admin });
    expect(started.json).toMatchObject({
      shadow: version,
      versions: [{ version, role: 'shadow', flags: 0, feedback: { judged: 0, precision: null } }],
      agreement: { hours: 0, both: 0, activeOnly: 0, shadowOnly: 0 },
      disagreements: [],
      truncated: false,
    });
    await gw.call('DELETE', '/api/v1/admin/models/faults/shadow', { token: admin });
  });
});
