// Tests of the Redis fixture itself, with real processes: if these fail, every other
// integration suite's results are suspect.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runInThisContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { transformFile } from '@swc/core';
import {
  type RedisClusterFleet,
  type RedisFleet,
  type RedisSentinelFleet,
  startRedisCluster,
  startRedisFleet,
  startRedisSentinel,
  TESTCONTAINERS_MISSING,
} from '../support/redis-fleet.js';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = join(here, '..', '..');

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** The error code of a TCP connect to the port, or undefined when something accepted it. */
function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

describe('startRedisFleet (local redis-server processes)', () => {
  let fleet: RedisFleet;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3, docker: false });
  });

  afterAll(() => fleet?.stop());

  it('starts N servers on distinct free loopback ports, each answering PING', async () => {
    const ports = fleet.nodes.map((node) => node.port);
    expect(new Set(ports).size).toBe(3);
    expect(ports).not.toContain(6379);
    expect(fleet.urls).toEqual(ports.map((port) => `redis://127.0.0.1:${port}`));
    for (const node of fleet.nodes) {
      expect(node.host).toBe('127.0.0.1');
      expect(await node.client().ping()).toBe('PONG');
      // Independent servers, not one server three times.
      expect(await node.client().call('CONFIG', 'GET', 'port')).toContain(String(node.port));
    }
  });

  it('runs without persistence, each server in its own directory', async () => {
    const dirs = new Set<string>();
    for (const node of fleet.nodes) {
      const client = node.client();
      expect(await client.call('CONFIG', 'GET', 'save')).toContain('');
      expect(await client.call('CONFIG', 'GET', 'appendonly')).toContain('no');
      const [, dir] = (await client.call('CONFIG', 'GET', 'dir')) as string[];
      expect(dir!.startsWith(tmpdir())).toBe(true);
      dirs.add(dir!);
    }
    expect(dirs.size).toBe(3);
  });

  it('kill() takes one node down; restart() brings it back on the same port, empty', async () => {
    const node = fleet.nodes[1]!;
    const before = node.client();
    await before.set('fleet:survives', 'no');
    const oldPid = node.pid!;

    await node.kill();

    expect(node.pid).toBeUndefined();
    expect(processExists(oldPid)).toBe(false);
    expect(await connectError(node.port)).toBe('ECONNREFUSED');
    await expect(before.get('fleet:survives')).rejects.toThrow();
    // The others are untouched.
    expect(await fleet.nodes[0]!.client().ping()).toBe('PONG');
    expect(await fleet.nodes[2]!.client().ping()).toBe('PONG');

    const port = node.port;
    await node.restart();

    expect(node.port).toBe(port);
    expect(node.pid).toEqual(expect.any(Number));
    expect(node.pid).not.toBe(oldPid);
    const after = node.client();
    expect(await after.ping()).toBe('PONG');
    expect(await after.get('fleet:survives')).toBeNull();
  });

  it('pause() makes commands time out; resume() makes them answer again', async () => {
    const node = fleet.nodes[2]!;
    const client = node.client({ commandTimeout: 300 });
    expect(await client.ping()).toBe('PONG');

    await node.pause();
    await expect(client.ping()).rejects.toThrow(/timed out/i);

    await node.resume();
    expect(await client.ping()).toBe('PONG');
  });

  it('registers its exit hook on the real process, not on jest’s sandbox copy', () => {
    // Jest gives each test file a copy of `process` whose 'exit' event never fires.
    const realProcess = runInThisContext('process') as NodeJS.Process;
    expect(realProcess).not.toBe(process);
    expect(realProcess.listeners('exit').map((listener) => listener.name)).toContain(
      'killLiveChildrenNow',
    );
  });
});

describe('startRedisFleet options', () => {
  it('passes extra server args and carries the password into url and client()', async () => {
    const fleet = await startRedisFleet({
      docker: false,
      args: ['--requirepass', 's3cr3t', '--maxmemory-policy', 'noeviction'],
    });
    try {
      const node = fleet.nodes[0]!;
      expect(node.password).toBe('s3cr3t');
      expect(node.url).toBe(`redis://:s3cr3t@127.0.0.1:${node.port}`);
      expect(await node.client().ping()).toBe('PONG');
      const anonymous = node.client({ password: undefined });
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      await fleet.stop();
    }
  });

  it('uses a --port arg as the port, and reports a port already taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as AddressInfo;
    try {
      await expect(
        startRedisFleet({ docker: false, args: ['--port', String(port)] }),
      ).rejects.toThrow(/address already in use/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }

    const fleet = await startRedisFleet({ docker: false, args: ['--port', String(port)] });
    try {
      expect(fleet.nodes[0]!.port).toBe(port);
      expect(await fleet.nodes[0]!.client().ping()).toBe('PONG');
    } finally {
      await fleet.stop();
    }
  });

  it('rejects a --port arg for more than one node', async () => {
    await expect(startRedisFleet({ nodes: 2, args: ['--port', '7777'] })).rejects.toThrow(
      /--port 7777 needs nodes: 1/,
    );
  });
});

describe('fleet.stop()', () => {
  it('leaves no process behind, paused ones included, and can be called twice', async () => {
    const fleet = await startRedisFleet({ nodes: 2, docker: false });
    const pids = fleet.nodes.map((node) => node.pid!);
    const client = fleet.nodes[0]!.client();
    expect(await client.ping()).toBe('PONG');
    await fleet.nodes[1]!.pause();

    await fleet.stop();

    for (const pid of pids) expect(processExists(pid)).toBe(false);
    expect(client.status).toBe('end');
    for (const node of fleet.nodes) expect(await connectError(node.port)).toBe('ECONNREFUSED');
    await expect(fleet.stop()).resolves.toBeUndefined();
  });
});

describe('reaping on process exit', () => {
  let dir: string;

  // The fixture, compiled as-is, runs in a plain Node process that ends without stop().
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redlock-fleet-exit-'));
    for (const name of ['redis-fleet', 'free-port', 'host-process']) {
      const { code } = await transformFile(join(here, '..', 'support', `${name}.ts`), {
        swcrc: false,
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      });
      await writeFile(join(dir, `${name}.js`), code);
    }
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(
      join(dir, 'orphan.js'),
      [
        "import { once } from 'node:events';",
        "import { startRedisFleet } from './redis-fleet.js';",
        'const fleet = await startRedisFleet({ nodes: 2, docker: false });',
        'const pids = fleet.nodes.map((node) => node.pid);',
        'const probes = fleet.nodes.map((node) => node.client());',
        "const dirs = await Promise.all(probes.map((probe) => probe.config('GET', 'dir')));",
        // An open client would keep the orphan alive, which is not the case under test.
        'for (const probe of probes) probe.disconnect();',
        'await fleet.nodes[1].pause();',
        'console.log(JSON.stringify({ pids, dirs: dirs.map(([, dir]) => dir) }));',
        // Hold still until the parent has looked: it closes our stdin when done.
        'process.stdin.resume();',
        "await once(process.stdin, 'end');",
        "if (process.argv[2] === 'throw') throw new Error('a test failed before stop()');",
        "if (process.argv[2] === 'signal') setInterval(() => undefined, 1_000);",
      ].join('\n'),
    );
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function runOrphan(mode: 'return' | 'throw' | 'signal') {
    const child = spawn(process.execPath, ['orphan.js', mode], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    // Whatever fails below, a hung orphan must not outlive the test. SIGTERM goes through the
    // fixture's own hook, so its servers go too; the exit expectations then fail.
    const watchdog = setTimeout(() => child.kill('SIGTERM'), 10_000);
    void exited.then(() => clearTimeout(watchdog));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Either the orphan reports its pids, or it died first and its stderr says why.
    const line = await Promise.race([
      once(createInterface({ input: child.stdout }), 'line').then(([first]) => String(first)),
      exited.then(() => Promise.reject(new Error(`orphan.js died before reporting:\n${stderr}`))),
    ]);
    const { pids, dirs } = JSON.parse(line) as { pids: number[]; dirs: string[] };
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(processExists(pid)).toBe(true);
    for (const serverDir of dirs) expect(existsSync(serverDir)).toBe(true);
    child.stdin.end();
    if (mode === 'signal') child.kill('SIGTERM');
    return { pids, dirs, exit: await exited };
  }

  // The servers were the orphan's children: once it is gone they are reparented, and a killed
  // one may linger as an unreaped zombie for a moment. Neither counts as running.
  async function expectAllGone({ pids, dirs }: { pids: number[]; dirs: string[] }) {
    const running = (pid: number) =>
      processExists(pid) && !/\) Z /.test(readProcStat(pid) ?? ') Z ');
    const deadline = Date.now() + 5_000;
    while (pids.some(running) && Date.now() < deadline) await sleep(20);
    const leftovers = pids.filter(running);
    // Never leave them behind, even when the assertion below fails.
    for (const pid of leftovers) process.kill(pid, 'SIGKILL');
    expect(leftovers).toEqual([]);
    expect(dirs.filter((serverDir) => existsSync(serverDir))).toEqual([]);
  }

  it('kills servers of a process that ends without stop()', async () => {
    const { exit, ...orphan } = await runOrphan('return');
    expect(exit.code).toBe(0);
    await expectAllGone(orphan);
  });

  it('kills servers of a process that dies from an uncaught error', async () => {
    const { exit, ...orphan } = await runOrphan('throw');
    expect(exit.code).toBe(1);
    await expectAllGone(orphan);
  });

  it('kills servers of a process that receives SIGTERM, then dies of it', async () => {
    const { exit, ...orphan } = await runOrphan('signal');
    expect(exit.signal).toBe('SIGTERM');
    await expectAllGone(orphan);
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisClusterFleet;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(() => cluster?.stop());

  it('reaches cluster_state:ok on all three masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.startupNodes).toEqual(
      cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    );
    for (const node of cluster.nodes) {
      expect(String(await node.client().call('CLUSTER', 'INFO'))).toMatch(/cluster_state:ok/);
    }
  });

  it('serves SET/GET through an ioredis Cluster client across every shard', async () => {
    const client = cluster.client();
    const keys = Array.from({ length: 30 }, (_, i) => `fleet:key:${i}`);
    for (const key of keys) await client.set(key, key);
    for (const key of keys) expect(await client.get(key)).toBe(key);

    const perMaster = await Promise.all(cluster.nodes.map((node) => node.client().dbsize()));
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(keys.length);
    expect(perMaster.every((count) => count > 0)).toBe(true);
  });
});

describe('startRedisSentinel', () => {
  let sentinel: RedisSentinelFleet;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  });

  afterAll(() => sentinel?.stop());

  it('has every sentinel pointing at the master, and the replica in sync', async () => {
    expect(sentinel.name).toBe('mymaster');
    expect(sentinel.sentinels).toHaveLength(3);
    for (const { host, port } of sentinel.sentinels) {
      const probe = sentinel.sentinelNodes.find((node) => node.port === port)!.client();
      expect(host).toBe('127.0.0.1');
      expect(await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')).toEqual([
        '127.0.0.1',
        String(sentinel.master.port),
      ]);
    }
    expect(await sentinel.replica.client().info('replication')).toMatch(/master_link_status:up/);
    // Discovery done, so a failover can start at once.
    const sentinelPeers = sentinel.sentinelNodes.map((node) =>
      node.client().call('SENTINEL', 'sentinels', 'mymaster'),
    );
    for (const peers of await Promise.all(sentinelPeers)) expect(peers).toHaveLength(2);
  });

  it('resolves the master through an ioredis sentinel client', async () => {
    const client = sentinel.client();
    await client.set('fleet:via-sentinel', 'yes');

    expect(client.stream.remotePort).toBe(sentinel.master.port);
    // Replicated: WAIT returns how many replicas acknowledged the write.
    expect(await client.call('WAIT', '1', '2000')).toBe(1);
    expect(await sentinel.replica.client().get('fleet:via-sentinel')).toBe('yes');
  });

  // Last in this block: it kills the master.
  it('fails over to the replica when the master dies', async () => {
    const client = sentinel.client();
    await client.set('fleet:before-failover', '1');
    // Sentinels announce the switch on their pub/sub channel: wait for that, not a delay.
    const watcher = sentinel.sentinelNodes[0]!.client();
    await watcher.subscribe('+switch-master');
    const switched = once(watcher, 'message') as Promise<[string, string]>;

    await sentinel.master.kill();

    const [, announcement] = await switched;
    const replica = sentinel.replica;
    expect(announcement).toBe(
      `mymaster 127.0.0.1 ${sentinel.master.port} 127.0.0.1 ${replica.port}`,
    );

    const after = sentinel.client();
    await after.set('fleet:after-failover', '1');
    expect(after.stream.remotePort).toBe(sentinel.replica.port);
    expect(await after.get('fleet:before-failover')).toBe('1');
  });
});

describe('Docker path', () => {
  if (process.env.REDLOCK_TEST_DOCKER === '1') {
    it('runs standalone nodes in containers with the same node API', async () => {
      const fleet = await startRedisFleet({ nodes: 1 });
      try {
        const node = fleet.nodes[0]!;
        const client = node.client({ commandTimeout: 500 });
        await client.set('fleet:docker', '1');
        await node.pause();
        await expect(client.ping()).rejects.toThrow(/timed out/i);
        await node.resume();
        expect(await client.ping()).toBe('PONG');
        await node.kill();
        await node.restart();
        expect(await node.client().get('fleet:docker')).toBeNull();
      } finally {
        await fleet.stop();
      }
    });
  } else {
    // testcontainers is deliberately not a dependency of this repository.
    it('fails loudly, naming the package, when testcontainers is not installed', async () => {
      await expect(startRedisFleet({ docker: true })).rejects.toThrow(TESTCONTAINERS_MISSING);
    });
  }
});

function readProcStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}
