/**
 * The dashboard page in a real browser (Debian's Chromium, headless, through playwright-core)
 * against `scripts/start` as a user runs it: the demo seeds the 12 Beijing sensors, the page lists
 * them, and a reading posted to HTTP ingest travels ingest → readings stream → writer → Redis (and
 * the WebSocket fan-out) to the page. Every wait is for a DOM change, never a sleep.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublisher, type Prediction, predictions } from '@sensormesh/bus';
import { freePort, requireBinary } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { type Browser, chromium, type Page, type WebSocketRoute } from 'playwright-core';
import { watchLog } from './support/mesh-log.ts';

const root = join(import.meta.dir, '..');
const BEIJING = 12;
const WAIT_MS = 45_000;

/** What the page functions below use of the browser's globals (the test is type-checked without DOM types). */
type PageGlobals = {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    querySelectorAll(selector: string): { length: number };
  };
};

let dataDir: string;
let base: string;
let mesh: ReturnType<typeof Bun.spawn> | undefined;
let browser: Browser | undefined;
let devices: Array<{ sensorId: string; deviceKey: string }>;
let redisUrl: string;

beforeAll(async () => {
  const executablePath = requireBinary('chromium', 'chromium');
  dataDir = await mkdtemp(join(tmpdir(), 'sensormesh-page-'));
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    MQTT_PORT: String(await freePort()),
    DATA_DIR: dataDir,
    // One data hour per real hour: the first hour of every station goes out at once, the next
    // only after the test is over, so the values the test posts are not overwritten meanwhile.
    DEMO_SPEED: '1',
    LOG_LEVEL: 'info',
  };
  delete env.REDIS_URL;
  delete env.CLICKHOUSE_URL;
  delete env.MQTT_URL;
  const child = Bun.spawn([join(root, 'scripts/start')], {
    cwd: root,
    env,
    stdout: 'pipe',
    stderr: 'inherit',
  });
  mesh = child;
  const { next } = watchLog(child.stdout as ReadableStream<Uint8Array>);
  await next('mesh listening');
  redisUrl = (await next('started redis-server')).url as string;
  await Promise.race([
    next('demo replay started'),
    next('demo data not found (DEMO_DATA); sensors seeded, no replay').then(() => {
      throw new Error('the Beijing demo data is missing: set DEMO_DATA to ../shared/data/beijing/train');
    }),
  ]);
  base = `http://127.0.0.1:${port}`;
  devices = await Bun.file(join(dataDir, 'secrets', 'demo-devices.json')).json();
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (mesh) {
    mesh.kill('SIGINT');
    await mesh.exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

/** Opens the page and records what the console and CSP complain about. */
async function open(query: string): Promise<{ page: Page; problems: string[] }> {
  const page = await (browser as Browser).newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${base}/${query}`);
  return { page, problems };
}

/** Posts one reading through HTTP ingest as the sensor's device. */
async function push(sensorId: string, metrics: Record<string, number>, messageId: string) {
  const device = devices.find((d) => d.sensorId === sensorId);
  if (!device) throw new Error(`no device key for ${sensorId}`);
  const response = await fetch(`${base}/api/v1/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${device.deviceKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sensorId, ts: Date.now(), metrics, messageId }),
  });
  expect(response.status).toBe(202);
}

const cellText = (page: Page, sensorId: string, metric: string) =>
  page.locator(`tr[data-sensor-id="${sensorId}"] td[data-metric="${metric}"]`).textContent();

/** Waits until the sensor's cell shows `text`. */
function cellShows(page: Page, sensorId: string, metric: string, text: string) {
  return page.waitForFunction(
    ([id, m, t]) =>
      (globalThis as unknown as PageGlobals).document.querySelector(
        `tr[data-sensor-id="${id}"] td[data-metric="${m}"]`,
      )?.textContent === t,
    [sensorId, metric, text] as const,
    { timeout: WAIT_MS },
  );
}

describe('the dashboard page', () => {
  test('is served at / with its own CSP and the assets from /dashboard/', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    for (const asset of ['app.js', 'app.css', 'uplot.min.js', 'uplot.min.css']) {
      expect((await fetch(`${base}/dashboard/${asset}`)).status).toBe(200);
    }
    const missing = await fetch(`${base}/dashboard/../package.json`);
    expect(missing.status).toBe(404);
  });

  test('polling: lists the seeded sensors and shows a reading posted to ingest', async () => {
    const { page, problems } = await open('?transport=poll&poll=500');
    try {
      await page.waitForFunction(
        (n) =>
          (globalThis as unknown as PageGlobals).document.querySelectorAll(
            'tr[data-sensor-id^="aq-beijing-"][data-status="online"]',
          ).length === n,
        BEIJING,
        { timeout: WAIT_MS },
      );
      expect(await page.locator('#connection').getAttribute('data-state')).toBe('polling');
      expect(await page.locator('[data-count="online"]').textContent()).toBe(String(BEIJING));
      // Every demo sensor sends PM2.5, so each has a value and an AQI badge with its category colour.
      const badge = page.locator('tr[data-sensor-id="aq-beijing-dongsi"] td[data-field="aqi"] .aqi');
      expect(await badge.getAttribute('data-category')).toBeTruthy();

      await push('aq-beijing-dongsi', { pm25: 987 }, 'page-poll');
      await cellShows(page, 'aq-beijing-dongsi', 'pm25', '987');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  test('live: the WebSocket brings a reading to the page, and a selected sensor gets a chart', async () => {
    const { page, problems } = await open('?poll=600000');
    try {
      // The poll is set to 10 minutes, so only the socket can bring the new value in time.
      await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
      await page.waitForSelector('tr[data-sensor-id="aq-beijing-tiantan"]', { timeout: WAIT_MS });
      await push('aq-beijing-tiantan', { pm25: 765 }, 'page-live');
      await cellShows(page, 'aq-beijing-tiantan', 'pm25', '765');

      await page.click('tr[data-sensor-id="aq-beijing-tiantan"]');
      await page.waitForSelector('#detail:not([hidden]) #chart canvas', { timeout: WAIT_MS });
      expect(await page.locator('#detail-title').textContent()).toContain('Tiantan');
      expect(await cellText(page, 'aq-beijing-tiantan', 'pm25')).toBe('765');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  test('forecast: a selected sensor shows its forecast, and a newer one announced on the predictions channel replaces it', async () => {
    const { page, problems } = await open('?poll=600000');
    const publisher = new Redis(redisUrl);
    try {
      await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
      await page.click('tr[data-sensor-id="aq-beijing-huairou"]');
      // The demo sent 80 past hours first, so the predictor forecast every station within seconds.
      await page.waitForFunction(
        () =>
          /^\d/.test(
            (globalThis as unknown as PageGlobals).document.querySelector(
              '#forecast tr[data-hours="24"] td[data-field="pm25"]',
            )?.textContent ?? '',
          ),
        undefined,
        { timeout: WAIT_MS },
      );
      expect(await page.locator('#forecast tr[data-hours]').count()).toBe(7);
      expect(
        await page
          .locator('#forecast tr[data-hours="1"] td[data-field="aqi"] .aqi')
          .getAttribute('data-category'),
      ).toBeTruthy();

      // A newer forecast (origin next hour) arrives over the bus: the page reads it back once stored.
      const hour = Math.floor(Date.now() / 3_600_000) + 1;
      const forecast = (metric: string, p50: number): Prediction => ({
        id: `page-test:aq-beijing-huairou:${metric}:${hour * 3_600_000}`,
        sensorId: 'aq-beijing-huairou',
        metric,
        ts: hour * 3_600_000,
        horizons: Array.from({ length: 72 }, (_, h) => ({
          minutes: (h + 1) * 60,
          p10: p50 - 10,
          p50,
          p90: p50 + 10,
        })),
        model: 'page-test',
        modelVersion: 'page-test-1',
        role: 'active',
        createdAt: Date.now(),
      });
      await createPublisher(publisher).publishBatch(predictions, [
        forecast('pm25', 321),
        forecast('pm10', 456),
      ]);
      await page.waitForFunction(
        () =>
          (globalThis as unknown as PageGlobals).document.querySelector(
            '#forecast tr[data-hours="24"] td[data-field="pm25"]',
          )?.textContent === '321',
        undefined,
        { timeout: WAIT_MS },
      );
      expect(
        await page.locator('#forecast tr[data-hours="24"] td[data-field="pm25-range"]').textContent(),
      ).toBe('311–331');
      expect(await page.locator('#forecast tr[data-hours="24"] td[data-field="pm10"]').textContent()).toBe(
        '456',
      );
      expect(await page.locator('#forecast-note').textContent()).toContain('page-test-1');
      expect(problems).toEqual([]);
    } finally {
      publisher.disconnect();
      await page.close();
    }
  }, 90_000);

  test('reconnect: the page resubscribes with its last cursor and gets the reading it missed', async () => {
    const page = await (browser as Browser).newPage();
    const sockets: WebSocketRoute[] = [];
    const tableSubscribes: Array<{ since?: string }> = [];
    let lastCursor: string | undefined;
    // Every socket of the page goes through this proxy, which records what crosses it and lets the
    // test cut the page's side.
    await page.routeWebSocket(/\/api\/v1\/stream$/, (ws) => {
      const server = ws.connectToServer();
      sockets.push(ws);
      ws.onMessage((message) => {
        const frame = JSON.parse(String(message));
        if (frame.type === 'subscribe' && frame.id === 'table') tableSubscribes.push(frame);
        server.send(message);
      });
      server.onMessage((message) => {
        const frame = JSON.parse(String(message));
        if (frame.type === 'event' && frame.id === 'table') lastCursor = frame.cursor;
        ws.send(message);
      });
    });
    try {
      await page.goto(`${base}/?poll=600000`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
      await push('aq-beijing-wanliu', { pm25: 555 }, 'page-before-cut');
      await cellShows(page, 'aq-beijing-wanliu', 'pm25', '555');
      const cursorAtCut = lastCursor;
      expect(cursorAtCut).toMatch(/^\d+-\d+$/);

      // From here the snapshot cannot help: only the resumed socket can bring the next value.
      await page.route('**/api/v1/dashboard/realtime**', (route) => route.abort());
      await (sockets[0] as WebSocketRoute).close();
      await page.waitForSelector('#connection[data-state="polling"]', { timeout: WAIT_MS });
      await push('aq-beijing-wanliu', { pm25: 444 }, 'page-while-cut');

      await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
      await cellShows(page, 'aq-beijing-wanliu', 'pm25', '444');
      expect(sockets).toHaveLength(2);
      expect(tableSubscribes.map((frame) => frame.since)).toEqual([undefined, cursorAtCut]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
