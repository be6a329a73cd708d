/**
 * Writes Mosquitto's password file and ACL file from the sensor registry, for deployments with an
 * external broker (deploy/mosquitto/mosquitto.conf reads them; SIGHUP Mosquitto to reload them).
 *
 *   MQTT_PASSWORD=… REDIS_URL=… CLICKHOUSE_URL=… scripts/mosquitto-auth [--keys FILE] [--issue-missing] [--out DIR]
 *
 * Every active and pending sensor becomes a broker user named by its id whose password is its
 * current device key. Raw keys are not stored anywhere (only their hashes), so they come from the
 * key file (`sensorId key` per line; what the operator provisioned devices with), each checked
 * against the registry. `--issue-missing` rotates the key of every sensor without a valid one and
 * appends the new keys to the key file (mode 0600) for provisioning; without it such sensors are
 * left out (they cannot connect) and listed. The ingest account is MQTT_USERNAME / MQTT_PASSWORD.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseEnv } from '@sensormesh/config';
import { IngestEnv, ingestContext } from '@sensormesh/ingest';
import { aclFile, collectAccounts, parseKeyFile, passwordFile } from '@sensormesh/ingest/mqtt';
import { createLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { openStore } from '@sensormesh/store';
import Redis from 'ioredis';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: 'deploy/mosquitto/generated/device-keys' },
    out: { type: 'string', default: 'deploy/mosquitto/generated' },
    'issue-missing': { type: 'boolean', default: false },
  },
});
const env = process.env;
const ingestUser = env.MQTT_USERNAME ?? 'sensormesh-ingest';
if (!env.MQTT_PASSWORD || !env.REDIS_URL) {
  console.error(
    'scripts/mosquitto-auth needs MQTT_PASSWORD (the ingest account) and REDIS_URL, and CLICKHOUSE_URL unless the registry is the local chDB under .data/ (stop the mesh first)',
  );
  process.exit(2);
}

const logger = createLogger({ service: 'mosquitto-auth', level: 'warn' });
const store = await openStore({
  clickhouseUrl: env.CLICKHOUSE_URL,
  clickhouseUser: env.CLICKHOUSE_USER,
  clickhousePassword: env.CLICKHOUSE_PASSWORD,
  database: env.CLICKHOUSE_DATABASE ?? 'sensormesh',
  chdbPath: join(env.DATA_DIR ?? '.data', 'chdb'),
});
const redis = new Redis(env.REDIS_URL);
try {
  const keyFile = Bun.file(values.keys);
  const known = (await keyFile.exists()) ? parseKeyFile(await keyFile.text()) : new Map<string, string>();
  const { sensors } = ingestContext({
    config: parseEnv(IngestEnv, env),
    store,
    redis,
    logger,
    registry: createRegistry(),
  });
  const found = await collectAccounts(sensors, known, {
    issueMissing: values['issue-missing'],
    actor: 'system',
  });

  await mkdir(values.out, { recursive: true });
  const accounts = [{ username: ingestUser, password: env.MQTT_PASSWORD }, ...found.accounts];
  await Bun.write(join(values.out, 'passwords'), passwordFile(accounts));
  await Bun.write(
    join(values.out, 'acl'),
    aclFile(
      ingestUser,
      found.accounts.map((a) => a.username),
    ),
  );
  if (found.issued.size > 0) {
    const lines = [...found.issued].map(([id, key]) => `${id} ${key}`).join('\n');
    const previous = (await keyFile.exists()) ? await keyFile.text() : '# sensorId deviceKey\n';
    await Bun.write(values.keys, `${previous.trimEnd()}\n${lines}\n`);
    await chmod(values.keys, 0o600);
  }
  console.info(
    `wrote ${join(values.out, 'passwords')} and acl: ${found.accounts.length} sensors + ${ingestUser}; ` +
      `${found.issued.size} keys issued (appended to ${values.keys})`,
  );
  if (found.stale.length > 0)
    console.warn(`left out, key in the file no longer valid: ${found.stale.join(' ')}`);
  if (found.missing.length > 0)
    console.warn(`left out, no key in the file: ${found.missing.join(' ')} (use --issue-missing)`);
} finally {
  redis.disconnect();
  await store.close();
}
