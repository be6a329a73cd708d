import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { countReadings, insertReadings } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let token: string;
let sensorsKey: string;

const JAN = Date.UTC(2015, 0, 1);
const S = 'sensors=a,b';

beforeAll(async () => {
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    {
      ANALYTICS_MAX_RANGE_DAYS: '31',
      ANALYTICS_MAX_BUCKETS: '1000',
      ANALYTICS_MAX_SENSORS: '3',
      ANALYTICS_MAX_POINTS: '2000',
    },
  );
  await insertReadings(gw.store)([
    { sensorId: 'a', metric: 'pm25', ts: JAN, value: 10, receivedAt: JAN, source: 'test' },
  ]);
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'eve@example.org', password: 'copper-kite-9043' },
  });
  token = (await gw.login('eve@example.org', 'copper-kite-9043')).accessToken;
  const key = await gw.call('POST', '/api/v1/api-keys', {
    body: { name: 'k', scopes: ['read:sensors'] },
    token,
  });
  sensorsKey = key.json.key;
});
afterAll(() => gw?.close());

/** Every refusal: the status, the envelope's code, and what its message must say. */
const cases: [string, string, number, RegExp][] = [
  [
    'from not before to',
    `/analytics/timeseries?${S}&metrics=pm25&from=${JAN}&to=${JAN}`,
    422,
    /must be before/,
  ],
  ['from after to', `/analytics/stats?from=2015-02-01&to=2015-01-01`, 422, /must be before/],
  [
    'range too long',
    `/analytics/timeseries?${S}&metrics=pm25&from=2015-01-01&to=2015-03-01&bucket=1d`,
    422,
    /59 days; at most 31 \(ANALYTICS_MAX_RANGE_DAYS\)/,
  ],
  [
    'too many buckets',
    `/analytics/timeseries?${S}&metrics=pm25&from=2015-01-01&to=2015-01-02&bucket=1m`,
    422,
    /1441 buckets per series; at most 1000 \(ANALYTICS_MAX_BUCKETS\)/,
  ],
  [
    'too many points',
    `/analytics/timeseries?sensors=a,b,c&metrics=pm25,pm10&from=2015-01-01&to=2015-01-15&bucket=1h`,
    422,
    /2022 points \(337 buckets × 6 series\); at most 2000 \(ANALYTICS_MAX_POINTS\)/,
  ],
  ['unknown bucket', `/analytics/timeseries?${S}&metrics=pm25&bucket=7m`, 422, /invalid/],
  [
    'too many sensors',
    `/analytics/timeseries?sensors=a,b,c,d&metrics=pm25`,
    422,
    /4 sensors asked for; at most 3 per request \(ANALYTICS_MAX_SENSORS\)/,
  ],
  ['unknown metric', `/analytics/timeseries?${S}&metrics=pm25,pm2_5`, 422, /unknown metric "pm2_5"/],
  ['malformed metric', `/analytics/timeseries?${S}&metrics=PM2.5`, 422, /invalid/],
  [
    'unknown time zone',
    `/analytics/timeseries?${S}&metrics=pm25&tz=Mars/Olympus`,
    422,
    /unknown time zone "Mars\/Olympus"/,
  ],
  [
    'hostile time zone',
    `/analytics/profiles/diurnal?${S}&metrics=pm25&tz=${encodeURIComponent("UTC'); DROP TABLE readings_raw; --")}`,
    422,
    /unknown time zone/,
  ],
  [
    'unreadable instant',
    `/analytics/stats?from=yesterday`,
    422,
    /from must be an ISO-8601 date-time or epoch milliseconds/,
  ],
  ['year 2200', `/analytics/stats?from=2199-01-01&to=2200-01-01`, 422, /between 1970 and 2100/],
  ['unknown parameter', `/analytics/stats?sensor=a`, 422, /invalid/],
  ['missing sensors', `/analytics/timeseries?metrics=pm25`, 422, /invalid/],
  ['correlation with itself', `/analytics/correlation?sensor=a&metric=pm25`, 422, /correlates with itself/],
  [
    'no whole hour',
    `/analytics/exceedance?${S}&metric=pm25&threshold=5&from=${JAN + 60_000}&to=${JAN + 3_000_000}`,
    422,
    /no whole hour/,
  ],
  ['threshold not a number', `/analytics/exceedance?${S}&metric=pm25&threshold=high`, 422, /invalid/],
  ['one sensor to compare', `/analytics/compare?sensors=a,a&metric=pm25`, 422, /at least two sensors/],
  ['unknown AQI standard', `/analytics/aqi?${S}&standard=uk-daqi`, 422, /invalid/],
  ['stats page too large', `/analytics/stats?limit=100000`, 422, /invalid/],
  ['anomalies: unknown metric', `/sensors/anomalies/count?metrics=radon`, 422, /unknown metric "radon"/],
  ['sensor stats: unknown zone', `/sensors/stats?tz=Nowhere/City`, 422, /unknown time zone/],
];

describe('refusals name the problem and change nothing', () => {
  for (const [name, path, status, message] of cases) {
    test(name, async () => {
      const response = await gw.call('GET', `/api/v1${path}`, { token });
      expect(response.status).toBe(status);
      expect(response.json.error.code).toBe('VALIDATION_FAILED');
      expect(`${response.json.error.message} ${JSON.stringify(response.json.error.details)}`).toMatch(
        message,
      );
      expect(response.json.error.requestId).toBeString();
    });
  }

  test('the readings are all still there (and the table too)', async () => {
    expect(await countReadings(gw.store)({ from: 0, to: JAN + 1 })).toBe(1);
  });
});

describe('access', () => {
  const paths = [
    '/analytics/timeseries?sensors=a&metrics=pm25',
    '/sensors/stats',
    '/sensors/anomalies/count',
    '/dashboard/metrics',
  ];
  test('without credentials: 401', async () => {
    for (const path of paths) expect((await gw.call('GET', `/api/v1${path}`)).status, path).toBe(401);
  });
  test('an API key without read:analytics: 403, before the query is validated', async () => {
    for (const path of [...paths, '/analytics/timeseries?bogus=1']) {
      const response = await gw.call('GET', `/api/v1${path}`, { headers: { 'x-api-key': sensorsKey } });
      expect(response.status, path).toBe(403);
    }
  });
});
