import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  type AlertEvent,
  alerts,
  type ExportProgress,
  exportProgress,
  type Prediction,
  predictions,
} from '@sensormesh/bus';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, SECRET } from '../../test-support/gateway.ts';
import { signHs256 } from '../security/forged-tokens.ts';
import { prevId } from './entries.ts';
import { type StreamGateway, streamGateway, type TestSocket } from './test-support.ts';

let sg: StreamGateway;
let beating: StreamGateway;
afterAll(async () => {
  await sg?.close();
  await beating?.close();
});
const servers = useServers({ redis: true, clickhouse: true });
const users = { admin: { id: '', token: '' }, ana: { id: '', token: '' }, ben: { id: '', token: '' } };

beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  sg = await streamGateway(urls);
  beating = await streamGateway(urls, { STREAM_HEARTBEAT_MS: '200' }, { database: sg.gw.database });
  const admin = await sg.gw.login(ADMIN.email, ADMIN.password);
  users.admin = { id: admin.user.id, token: admin.accessToken };
  for (const name of ['ana', 'ben'] as const) {
    const account = { email: `${name}@example.org`, password: 'river-stone-4821' };
    expect((await sg.gw.call('POST', '/api/v1/auth/register', { body: account })).status).toBe(201);
    const session = await sg.gw.login(account.email, account.password);
    users[name] = { id: session.user.id, token: session.accessToken };
  }
});

const alert = (id: string, visibility: AlertEvent['visibility'], ownerId?: string): AlertEvent => ({
  id,
  ruleId: `rule-${id}`,
  sensorId: 's-1',
  metric: 'pm25',
  state: 'open',
  severity: 'warning',
  message: `alert ${id}`,
  visibility,
  ...(ownerId ? { ownerId } : {}),
  at: Date.now(),
});

async function subscribed(socket: TestSocket, message: Record<string, unknown>): Promise<void> {
  socket.send({ type: 'subscribe', ...message });
  const answer = await socket.next(
    (frame) => frame.id === message.id && ['subscribed', 'error'].includes(frame.type),
  );
  expect(answer.type).toBe('subscribed');
}

/** The alert ids a socket received on subscription `id` once `last` arrived. */
async function alertIds(socket: TestSocket, id: string, lastCursor: string): Promise<string[]> {
  await socket.next((frame) => frame.type === 'event' && frame.cursor === lastCursor);
  return socket.frames
    .filter((frame) => frame.type === 'event' && frame.id === id)
    .map((frame) => String(frame.data?.id));
}

describe('authentication', () => {
  test('a token in the query authenticates the socket before its first message', async () => {
    const socket = await sg.connect(users.ana.token);
    socket.send({ type: 'subscribe', id: 'al', channel: 'alerts' });
    expect(await socket.nextOf('authenticated')).toMatchObject({ userId: users.ana.id });
    await socket.nextOf('subscribed', 'al');
    await socket.close();
  });

  test('a token in the first message works the same', async () => {
    const socket = await sg.connect();
    socket.send({ type: 'auth', token: users.ben.token });
    socket.send({ type: 'subscribe', id: 'al', channel: 'alerts' });
    expect(await socket.nextOf('authenticated')).toMatchObject({ userId: users.ben.id });
    await socket.nextOf('subscribed', 'al');
    await socket.close();
  });

  test.each([
    ['garbage', () => 'not-a-token'],
    [
      'a token signed with another key',
      () => signHs256({ sub: users.ana.id, role: 'professional' }, `${SECRET}-x`),
    ],
    [
      'an expired token',
      () => {
        const past = Math.floor(Date.now() / 1_000) - 3_600;
        return signHs256(
          { sub: users.ana.id, role: 'professional', iat: past, iatMs: past * 1_000, exp: past + 60 },
          SECRET,
        );
      },
    ],
  ])('%s closes the socket with 4001, in the query or in a message', async (_, token) => {
    const viaQuery = await sg.connect(token());
    expect(await viaQuery.closed).toEqual({ code: 4001, reason: 'invalid, expired or revoked token' });
    const viaMessage = await sg.connect();
    viaMessage.send({ type: 'auth', token: token() });
    expect(await viaMessage.closed).toEqual({ code: 4001, reason: 'invalid, expired or revoked token' });
  });

  test('a token that expires while connected closes the socket with 4001', async () => {
    const soon = Math.floor(Date.now() / 1_000) + 1;
    const token = signHs256({ sub: users.ana.id, role: 'professional', exp: soon }, SECRET);
    const socket = await sg.connect(token);
    expect(await socket.nextOf('authenticated')).toMatchObject({ expiresAt: soon * 1_000 });
    expect(await socket.closed).toEqual({ code: 4001, reason: 'token expired' });
  });

  test('a fresh token for the same user extends the socket; another user’s is refused', async () => {
    const soon = Math.floor(Date.now() / 1_000) + 1;
    const socket = await sg.connect(
      signHs256({ sub: users.ana.id, role: 'professional', exp: soon }, SECRET),
    );
    await socket.nextOf('authenticated');
    socket.send({ type: 'auth', token: users.ben.token });
    expect(await socket.nextOf('error')).toMatchObject({ code: 'FORBIDDEN' });
    socket.send({ type: 'auth', token: users.ana.token });
    const renewed = await socket.nextOf('authenticated');
    expect(renewed.expiresAt).toBeGreaterThan(soon * 1_000);
    // No event marks "nothing happened at the old expiry": waiting past it is the point here.
    await Bun.sleep(Math.max(0, soon * 1_000 + 100 - Date.now()));
    await socket.roundTrip();
    await socket.close();
  });

  test('a token revoked while connected (role change) closes the socket with 4001 at the next heartbeat', async () => {
    const socket = await beating.connect(users.ben.token);
    await socket.nextOf('authenticated');
    await beating.gw.ctx.tokens.revokeAllFor(users.ben.id);
    expect(await socket.closed).toEqual({ code: 4001, reason: 'token revoked or expired' });
    // Ben signs in again for the tests after this one.
    users.ben.token = (await sg.gw.login('ben@example.org', 'river-stone-4821')).accessToken;
  });
});

describe('visibility', () => {
  test('alerts: owners see their own and shared ones, admins see all, live and replayed', async () => {
    const sockets = {
      ana: await sg.connect(users.ana.token),
      ben: await sg.connect(users.ben.token),
      admin: await sg.connect(users.admin.token),
    };
    for (const socket of Object.values(sockets)) await subscribed(socket, { id: 'live', channel: 'alerts' });
    const ids = await sg.publisher.publishBatch(alerts, [
      alert('ana-own', 'owner', users.ana.id),
      alert('ben-own', 'owner', users.ben.id),
      alert('shared', 'all'),
      alert('ownerless', 'owner'),
      alert('admin-own', 'owner', users.admin.id),
    ]);
    const since = prevId(ids[0] as string);
    const expected = {
      ana: ['ana-own', 'shared'],
      ben: ['ben-own', 'shared'],
      admin: ['ana-own', 'ben-own', 'shared', 'ownerless', 'admin-own'],
    };
    // A marker every socket sees ends each wait.
    const [marker] = await sg.publisher.publishBatch(alerts, [alert('marker', 'all')]);
    for (const [name, socket] of Object.entries(sockets)) {
      expect(await alertIds(socket, 'live', marker as string)).toEqual([
        ...expected[name as keyof typeof expected],
        'marker',
      ]);
      // The same through a replay from just before the first of them.
      await subscribed(socket, { id: 'again', channel: 'alerts', since });
      await socket.nextOf('replayed', 'again');
      const replayed = socket.frames.filter((frame) => frame.type === 'event' && frame.id === 'again');
      expect(replayed.map((frame) => frame.data?.id)).toEqual([
        ...expected[name as keyof typeof expected],
        'marker',
      ]);
      await socket.close();
    }
  });

  test('predictions: a shadow candidate’s forecasts reach admins only; everyone else sees the active model’s, live and replayed', async () => {
    const forecast = (version: string, role: 'active' | 'shadow'): Prediction => ({
      id: `${version}:s-1:pm25:0`,
      sensorId: 's-1',
      metric: 'pm25',
      ts: 0,
      horizons: [{ minutes: 60, p10: 1, p50: 2, p90: 3 }],
      model: 'forecast',
      modelVersion: version,
      role,
      createdAt: Date.now(),
    });
    const sockets = {
      anonymous: await sg.connect(),
      ana: await sg.connect(users.ana.token),
      admin: await sg.connect(users.admin.token),
    };
    for (const socket of Object.values(sockets))
      await subscribed(socket, { id: 'live', channel: 'predictions' });
    const ids = await sg.publisher.publishBatch(predictions, [
      forecast('v-active', 'active'),
      forecast('v-shadow', 'shadow'),
      forecast('v-active-2', 'active'),
    ]);
    const expected = {
      anonymous: ['v-active', 'v-active-2'],
      ana: ['v-active', 'v-active-2'],
      admin: ['v-active', 'v-shadow', 'v-active-2'],
    };
    for (const [name, socket] of Object.entries(sockets)) {
      await socket.next((frame) => frame.type === 'event' && frame.cursor === ids[2]);
      const versions = (id: string) =>
        socket.frames.filter((f) => f.type === 'event' && f.id === id).map((f) => f.data?.modelVersion);
      expect(versions('live')).toEqual(expected[name as keyof typeof expected]);
      await subscribed(socket, { id: 'again', channel: 'predictions', since: prevId(ids[0] as string) });
      await socket.nextOf('replayed', 'again');
      expect(versions('again')).toEqual(expected[name as keyof typeof expected]);
      await socket.close();
    }
  });

  test('exports: each user sees only their own jobs’ progress, admins included', async () => {
    const progress = (userId: string, jobId: string): ExportProgress => ({
      jobId,
      userId,
      status: 'running',
      rows: 10,
      estimatedRows: 100,
      progress: 0.1,
      bytes: 1_000,
      at: Date.now(),
    });
    const ana = await sg.connect(users.ana.token);
    const admin = await sg.connect(users.admin.token);
    await subscribed(ana, { id: 'x', channel: 'exports' });
    await subscribed(admin, { id: 'x', channel: 'exports' });
    const ids = await sg.publisher.publishBatch(exportProgress, [
      progress(users.ana.id, 'job-ana'),
      progress(users.admin.id, 'job-admin'),
      progress(users.ben.id, 'job-ben'),
      progress(users.ana.id, 'job-ana-2'),
      progress(users.admin.id, 'job-admin-2'),
    ]);
    await ana.next((frame) => frame.cursor === ids[3]);
    await admin.next((frame) => frame.cursor === ids[4]);
    expect(ana.frames.filter((f) => f.type === 'event').map((f) => f.data?.jobId)).toEqual([
      'job-ana',
      'job-ana-2',
    ]);
    expect(admin.frames.filter((f) => f.type === 'event').map((f) => f.data?.jobId)).toEqual([
      'job-admin',
      'job-admin-2',
    ]);
    await ana.close();
    await admin.close();
  });
});
