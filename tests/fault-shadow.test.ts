/**
 * A fault model in shadow, end to end on real Redis and ClickHouse: the predictor scores it beside the
 * active version, the writer stores both, and the gateway's admin comparison reports flags, agreement
 * and precision against feedback, while everything users read (the `anomalies` stream and table, the
 * fault counts) holds the active version's flags alone. Six Beijing stations' real hours, moved to
 * the last days so the comparison's `days` covers them, with PM2.5 spikes injected.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Anomaly, type FaultShadowVerdict, type Reading, readings } from '@sensormesh/bus';
import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { CHANNELS } from '@sensormesh/models';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type OutputWriter, startOutputWriter, WriterEnv } from '@sensormesh/writer';
import { cardFor, repoModel, upload } from '../services/gateway/src/modules/models-admin/test-helpers.ts';
import { ADMIN, type TestGateway, testGateway } from '../services/gateway/src/test-support/gateway.ts';
import { beijingSlice } from '../services/predictor/src/test-support/beijing.ts';
import { HOUR_MS, metricsOf, predictorWorld } from '../services/predictor/src/test-support/harness.ts';
import type { Predictor } from '../services/predictor/src/worker.ts';
import { groupState, waitFor } from '../services/writer/src/test-support/helpers.ts';

let world: Awaited<ReturnType<typeof predictorWorld>>;
let gw: TestGateway;
let writer: OutputWriter;
let predictor: Predictor;
// Registered before useServers, so it runs while Redis and ClickHouse are still up.
afterAll(async () => {
  await writer?.stop();
  await world?.close();
  await gw?.close();
});
const servers = useServers({ redis: true, clickhouse: true });

let slice: Awaited<ReturnType<typeof beijingSlice>>;
let admin: string;
let activeVersion: string;
const H0 = Math.floor(Date.now() / HOUR_MS) - 90;
const PM25 = CHANNELS.indexOf('pm25');
const ids = () => slice.map((s) => `aq-${s.station}`);
const clock = { now: (H0 + 71) * HOUR_MS + 10 * 60_000 };

/**
 * Publishes hours [from, to) of every station, with +700 µg/m³ of PM2.5 where `spikes` says, hour by
 * hour in one batch: the predictor folds them in one pass, so each closed hour's network reference
 * holds every other station.
 */
async function publish(from: number, to: number, spikes: Record<string, number>): Promise<void> {
  const batch: Reading[] = [];
  for (let hour = from; hour < to; hour++) {
    for (const s of slice) {
      const values = [...(s.hours[hour] as number[])];
      if (spikes[s.station] === hour) values[PM25] = (values[PM25] as number) + 700;
      const ts = (H0 + hour) * HOUR_MS;
      batch.push({
        sensorId: `aq-${s.station}`,
        ts,
        metrics: metricsOf(values),
        receivedAt: ts,
        source: 'test',
      });
    }
  }
  await world.publisher.publishBatch(readings, batch);
}

/** What the predictor's passes over hours [from, to) produced. */
function scoredOver(from: number, to: number) {
  const passes = world.passes.filter((p) => p.due.some((d) => d.hour >= H0 + from && d.hour < H0 + to));
  return {
    anomalies: passes.flatMap((p) => p.result.anomalies),
    verdicts: passes.flatMap((p) => p.result.shadowFaults),
  };
}

/** Resolves once the writer has stored everything on the output streams. */
async function drained(): Promise<void> {
  for (const stream of ['anomalies', 'fault-shadow-verdicts']) {
    await waitFor(`the writer to drain ${stream}`, async () => {
      const state = await groupState(world.redis, stream);
      return state.pending === 0 && state.lag === 0;
    });
  }
}

const hourKey = (x: { sensorId: string; metric: string; ts: number }) => `${x.sensorId}/${x.metric}/${x.ts}`;

async function compare(query: string) {
  const response = await gw.call('GET', `/api/v1/admin/models/faults/compare?${query}`, { token: admin });
  expect(response.status).toBe(200);
  return response.json;
}

beforeAll(async () => {
  world = await predictorWorld({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    {},
    { database: world.database },
  );
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  writer = await startOutputWriter({
    config: parseEnv(WriterEnv, { WRITER_CONSUMER: 'fault-shadow-e2e', WRITER_MAX_WAIT_MS: '0' }),
    store: world.store,
    redis: world.redis,
    logger: silentLogger(),
    registry: createRegistry(),
  });
  slice = await beijingSlice();
  for (const s of slice) await world.storeHours(`aq-${s.station}`, H0, s.hours.slice(0, 71));
  // The predictor seeds the registry (the repo's fault model becomes active) and rebuilds its windows.
  ({ predictor } = await world.start(clock));
  activeVersion = predictor.status().models.faults as string;
}, 60_000);

describe('a fault shadow beside the active model', () => {
  test('the same model in shadow: every flag agreed, precision from feedback, users see the active flags only', async () => {
    const faults = await repoModel('faults');
    expect(
      (await upload(gw, admin, faults.bytes, cardFor(faults.card, { version: 'faults-same' }))).status,
    ).toBe(201);
    const shadowed = await gw.call('POST', '/api/v1/admin/models/faults/faults-same/shadow', {
      token: admin,
    });
    expect(shadowed.status).toBe(200);
    await predictor.reloadModels();
    expect(predictor.status().models).toMatchObject({ faults: activeVersion, faultsShadow: 'faults-same' });

    // Hours 71–75 close (76 stays open); Changping spikes at 73, Aotizhongxin at 74.
    await publish(71, 77, { changping: 73, aotizhongxin: 74 });
    await world.scored(
      ids().flatMap((sensorId) => [71, 72, 73, 74, 75].map((h) => ({ sensorId, hour: H0 + h }))),
    );
    await drained();

    const { anomalies, verdicts } = scoredOver(71, 76);
    const flagged = new Set(anomalies.map(hourKey));
    const right = anomalies.find(
      (a) => a.sensorId === 'aq-changping' && a.metric === 'pm25' && a.ts === (H0 + 73) * HOUR_MS,
    ) as Anomaly;
    const wrong = anomalies.find(
      (a) => a.sensorId === 'aq-aotizhongxin' && a.metric === 'pm25' && a.ts === (H0 + 74) * HOUR_MS,
    ) as Anomaly;
    expect(right).toMatchObject({ metric: 'pm25', kind: 'spike', modelVersion: activeVersion });
    expect(wrong).toMatchObject({ metric: 'pm25', kind: 'spike' });
    expect(verdicts.map(hourKey).sort()).toEqual([...flagged].sort());

    // People judge the active model's anomalies (the only ones they see): one right, one not a fault.
    for (const [anomaly, body] of [
      [right, { verdict: 'right' }],
      [wrong, { verdict: 'wrong', kind: 'none' }],
    ] as const) {
      const response = await gw.call('POST', '/api/v1/feedback', {
        token: admin,
        body: { target: 'anomaly', id: anomaly.id, ...body },
      });
      expect(response.status).toBe(200);
    }

    const report = await compare('days=7');
    const feedback = { judged: 2, confirmed: 1, rejected: 1, precision: 0.5, kindPrecision: 0.5, missed: 0 };
    expect(report).toMatchObject({
      task: 'faults',
      shadow: 'faults-same',
      versions: [
        { version: activeVersion, role: 'active', flags: flagged.size, feedback },
        { version: 'faults-same', role: 'shadow', flags: flagged.size, feedback },
      ],
      agreement: {
        hours: flagged.size,
        both: flagged.size,
        sameKind: flagged.size,
        activeOnly: 0,
        shadowOnly: 0,
      },
      disagreements: [],
      truncated: false,
    });
    expect(report.versions[1].byKind).toEqual(report.versions[0].byKind);

    // What users read holds the active version's flags alone: the stream, the table, the fault counts.
    const entries = await world.redis.xrange('anomalies', '-', '+');
    const onStream = entries.map(([, fields]) => JSON.parse(fields[1] as string) as Anomaly);
    expect(onStream.length).toBe(anomalies.length);
    expect(new Set(onStream.map((a) => a.modelVersion))).toEqual(new Set([activeVersion]));
    const [stored] = await world.store.query<{ shadow: number; total: number }>(
      sql`SELECT countIf(model_version = 'faults-same') AS shadow, uniqExact(id) AS total FROM anomalies`,
    );
    expect(Number(stored?.shadow)).toBe(0);
    expect(Number(stored?.total)).toBe(anomalies.length);
    const counts = await gw.call(
      'GET',
      `/api/v1/faults?from=${new Date((H0 + 71) * HOUR_MS).toISOString()}&to=${new Date((H0 + 76) * HOUR_MS).toISOString()}`,
      { token: admin },
    );
    expect(counts.json.total).toBe(anomalies.length);
  }, 60_000);

  test('an eager shadow (same graph, threshold 0.5): it flags a superset, the extra hours listed as disagreements', async () => {
    const faults = await repoModel('faults');
    const details = { ...(faults.card.details as Record<string, unknown>), threshold: 0.5 };
    const card = cardFor({ ...faults.card, details }, { version: 'faults-eager' });
    expect((await upload(gw, admin, faults.bytes, card)).status).toBe(201);
    await gw.call('POST', '/api/v1/admin/models/faults/faults-eager/shadow', { token: admin });
    await predictor.reloadModels();
    expect(predictor.status().models).toMatchObject({ faults: activeVersion, faultsShadow: 'faults-eager' });

    // Hours 76–80 close with the readings, 81 with a sweep after the grace; Dingling spikes at 78, far
    // enough for both; Gucheng at 80, which the active model's p(none) of about 0.16 lets pass.
    await publish(77, 82, { dingling: 78, gucheng: 80 });
    await world.scored(
      ids().flatMap((sensorId) => [76, 77, 78, 79, 80].map((h) => ({ sensorId, hour: H0 + h }))),
    );
    await predictor.sweep((H0 + 82) * HOUR_MS + 120_000);
    await drained();

    const { anomalies, verdicts } = scoredOver(76, 82);
    const own = verdicts.filter((v: FaultShadowVerdict) => v.shadowVersion === 'faults-eager');
    expect(own).toHaveLength(verdicts.length);
    const flagged = new Set(anomalies.map(hourKey));
    const extra = own.filter((v) => !v.active?.kind);
    expect(flagged.size).toBeGreaterThan(0);
    expect(extra.map(hourKey)).toContain(`aq-gucheng/pm25/${(H0 + 80) * HOUR_MS}`);
    expect(flagged).toContain(`aq-dingling/pm25/${(H0 + 78) * HOUR_MS}`);
    // p(none) < 0.5 holds wherever p(none) < 0.05 does: the active's every flag is the shadow's too.
    expect(
      own
        .filter((v) => v.active?.kind)
        .map(hourKey)
        .sort(),
    ).toEqual([...flagged].sort());
    expect(own.every((v) => v.shadow.kind)).toBe(true);

    const report = await compare('days=7');
    expect(report).toMatchObject({
      shadow: 'faults-eager',
      versions: [
        { version: activeVersion, role: 'active', flags: flagged.size },
        { version: 'faults-eager', role: 'shadow', flags: own.length },
      ],
      agreement: { hours: own.length, both: flagged.size, activeOnly: 0, shadowOnly: extra.length },
    });
    // No one gave feedback on these hours: no precision to report.
    expect(report.versions[1].feedback).toMatchObject({ judged: 0, precision: null, kindPrecision: null });
    expect(report.disagreements).toHaveLength(Math.min(50, own.length - report.agreement.sameKind));
    expect(report.disagreements[0]).toMatchObject({ active: null, shadow: expect.any(String) });
    // Newest first.
    const times = report.disagreements.map((d: { at: string }) => Date.parse(d.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // The first run is still there to read; an unknown version is a 404.
    const earlier = await compare('days=7&shadow=faults-same');
    expect(earlier.agreement).toMatchObject({ activeOnly: 0, shadowOnly: 0 });
    expect(earlier.versions[1].feedback).toMatchObject({ judged: 2, precision: 0.5 });
    const unknown = await gw.call('GET', '/api/v1/admin/models/faults/compare?shadow=nope', { token: admin });
    expect(unknown.status).toBe(404);

    // And still nothing of either shadow where users look.
    const [stored] = await world.store.query<{ n: number }>(
      sql`SELECT count() AS n FROM anomalies WHERE model_version != ${activeVersion}`,
    );
    expect(Number(stored?.n)).toBe(0);
  }, 60_000);
});
