import { join } from 'node:path';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import { freePort, requireBinary, type ServerHandle, stopChild, tempDir, waitUntil } from './process.ts';

const START_TIMEOUT_MS = 30_000;

/** A running redis-server on loopback. */
export interface RedisServer extends ServerHandle {
  readonly url: string;
}

/** A running clickhouse-server on loopback (HTTP interface). */
export interface ClickHouseServer extends ServerHandle {
  readonly url: string;
  readonly version: string;
  /** Kills the server process (an outage: connections refused), keeping its port and data dir. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once it answers. */
  restart(): Promise<void>;
}

/** A running mosquitto broker on loopback. */
export interface MosquittoServer extends ServerHandle {
  readonly url: string;
}

async function readLog(path: string): Promise<string> {
  const file = Bun.file(path);
  return (await file.exists()) ? (await file.text()).slice(-4_000) : '(no log)';
}

/** Starts redis-server on a free port with a temporary data dir and no persistence. */
export async function startRedis(): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server');
  const [port, dir] = await Promise.all([freePort(), tempDir('redis')]);
  const logFile = join(dir, 'redis.log');
  const child = Bun.spawn(
    [
      binary,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      logFile,
    ],
    { stdout: 'ignore', stderr: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil(
    'redis-server',
    child,
    () => pingRedis(url),
    START_TIMEOUT_MS,
    () => readLog(logFile),
  );
  return { name: 'redis-server', port, dir, url, stop: () => stopChild(child, dir) };
}

async function pingRedis(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {}); // a refused connect while starting is expected; connect() rejects too
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

function clickhouseConfig(dir: string, httpPort: number, tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>30</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/data/tmp/</tmp_path>
  <user_files_path>${dir}/data/user_files/</user_files_path>
  <format_schema_path>${dir}/data/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

const CLICKHOUSE_USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/** Starts clickhouse-server (Debian's 18.16 build here) on free ports with a temporary data dir. */
export async function startClickHouse(): Promise<ClickHouseServer> {
  const binary = requireBinary('clickhouse-server', 'clickhouse-server');
  const [httpPort, tcpPort, dir] = await Promise.all([freePort(), freePort(), tempDir('clickhouse')]);
  await Bun.write(join(dir, 'config.xml'), clickhouseConfig(dir, httpPort, tcpPort));
  await Bun.write(join(dir, 'users.xml'), CLICKHOUSE_USERS);
  const url = `http://127.0.0.1:${httpPort}`;
  const logs = async () =>
    `${await readLog(join(dir, 'stderr.log'))}\n${await readLog(join(dir, 'error.log'))}`;
  const spawn = async () => {
    const child = Bun.spawn([binary, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdout: Bun.file(join(dir, 'stdout.log')),
      stderr: Bun.file(join(dir, 'stderr.log')),
    });
    await waitUntil(
      'clickhouse-server',
      child,
      async () => (await fetch(`${url}/ping`)).ok,
      START_TIMEOUT_MS,
      logs,
    );
    return child;
  };
  let child = await spawn();
  const version = (await (await fetch(url, { method: 'POST', body: 'SELECT version()' })).text()).trim();
  // 18.16 takes 2-10 s to honour SIGTERM while clients keep connections alive; the data dir is
  // thrown away, so nothing is lost by killing it outright.
  const stop = () => stopChild(child, dir, { signal: 'SIGKILL' });
  // An outage as a crash would make one: SIGKILL, then the same binary, config, port and data.
  const kill = async () => {
    child.kill('SIGKILL');
    await child.exited;
  };
  const restart = async () => {
    if (child.exitCode === null && child.signalCode === null) await kill();
    child = await spawn();
  };
  return { name: 'clickhouse-server', port: httpPort, dir, url, version, stop, kill, restart };
}

/** Starts mosquitto on a free port; `extraConfig` lines are appended to its config file. */
export async function startMosquitto(extraConfig: readonly string[] = []): Promise<MosquittoServer> {
  const binary = requireBinary('mosquitto', 'mosquitto');
  const [port, dir] = await Promise.all([freePort(), tempDir('mosquitto')]);
  const logFile = join(dir, 'mosquitto.log');
  const config = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `log_dest file ${logFile}`,
    // As root, mosquitto would drop to its own user and lose access to the private temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...extraConfig,
  ].join('\n');
  await Bun.write(join(dir, 'mosquitto.conf'), `${config}\n`);
  const child = Bun.spawn([binary, '-c', join(dir, 'mosquitto.conf')], { stdout: 'ignore', stderr: 'pipe' });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitUntil(
    'mosquitto',
    child,
    () => pingMqtt(url),
    START_TIMEOUT_MS,
    () => readLog(logFile),
  );
  return { name: 'mosquitto', port, dir, url, stop: () => stopChild(child, dir) };
}

async function pingMqtt(url: string): Promise<boolean> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1_000 });
  await client.endAsync();
  return true;
}
