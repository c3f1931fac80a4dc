/**
 * Real object stores for tests, started on loopback ports by the test itself: Azurite (Microsoft's
 * Azure Storage emulator, from npm) and VersityGW (an S3 gateway with Object Lock, built from Go
 * modules by hack/setup.sh into .cache/bin) on a temporary folder. Each test file starts its own
 * and stops it in `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AzureBlobLocation, S3Location } from '../../controller/storage/location.js';
import { tempDir, type TempDir } from './disk-images.js';
import { repoRoot } from './kube.js';

/** Azurite's well-known development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteServer {
  /** Account URL, path-style: http://127.0.0.1:PORT/devstoreaccount1 */
  accountUrl: string;
  port: number;
  accountName: string;
  accountKey: string;
  connectionString: string;
  /** Creates a container with a fresh name and returns a location for a repository in it. */
  newContainer(options?: { prefix?: string }): Promise<AzureBlobLocation>;
  stop(): Promise<void>;
}

export interface S3Server {
  endpoint: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Creates a bucket with a fresh name (with Object Lock when asked) and returns its location. */
  newBucket(options?: { objectLock?: boolean; prefix?: string }): Promise<S3Location>;
  stop(): Promise<void>;
}

function freshName(kind: string): string {
  return `${kind}-${randomBytes(6).toString('hex')}`;
}

/** Waits until the child prints `ready` (returning that match) or exits, whichever comes first. */
function waitForOutput(child: ChildProcess, ready: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

/** A loopback port that was free a moment ago, for servers that cannot report the one they bound. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Waits until something accepts connections on the port, failing if the child exits first. */
async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`server exited (${child.exitCode}) before it listened on ${port}:\n${output}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (open) {
      return;
    }
    await sleep(100);
  }
  throw new Error(`server did not listen on ${port} within 60 s:\n${output}`);
}

export async function startAzurite(): Promise<AzuriteServer> {
  const dir = await tempDir('shadowkeep-azurite-');
  const main = fileURLToPath(new URL('../../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ],
    // In memory: nothing is written, but any file Azurite makes lands in the temporary folder.
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir.path },
  );
  const started = await waitForOutput(child, /listens on http:\/\/127\.0\.0\.1:(\d+)/, 'Azurite').catch(
    async (err: unknown) => {
      await dir.remove();
      throw err;
    },
  );
  const port = Number(started[1]);
  const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const service = new BlobServiceClient(
    accountUrl,
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  return {
    accountUrl,
    port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`,
    async newContainer({ prefix = '' } = {}) {
      const container = freshName('repo');
      await service.getContainerClient(container).create();
      return {
        type: 'azureBlob',
        url: `azblob://${container}${prefix ? `/${prefix}` : ''}?accountUrl=${accountUrl}`,
        accountUrl,
        container,
        prefix,
        credential: { kind: 'sharedKey', accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY },
        immutability: false,
      };
    },
    async stop() {
      await stopChild(child);
      await dir.remove();
    },
  };
}

/** The VersityGW binary hack/setup.sh builds (hack/tools/versitygw). */
export const VERSITYGW = join(repoRoot, '.cache/bin/versitygw');

export async function startS3Server(): Promise<S3Server> {
  const dir: TempDir = await tempDir('shadowkeep-s3-');
  const accessKeyId = `test${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(20).toString('hex');
  const region = 'us-east-1';
  for (const sub of ['data', 'meta', 'versions']) {
    await mkdir(join(dir.path, sub));
  }
  let child: ChildProcess | undefined;
  let port = 0;
  // The port is picked before the server binds it: retry if someone else took it meanwhile.
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const candidate = spawn(
      VERSITYGW,
      [
        '--access',
        accessKeyId,
        '--secret',
        secretAccessKey,
        '--region',
        region,
        '--port',
        `127.0.0.1:${port}`,
        'posix',
        '--sidecar',
        join(dir.path, 'meta'),
        '--versioning-dir',
        join(dir.path, 'versions'),
        join(dir.path, 'data'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await waitForPort(port, candidate);
      child = candidate;
    } catch (err) {
      await stopChild(candidate);
      if (attempt === 2) {
        await dir.remove();
        throw err;
      }
    }
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const admin = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  return {
    endpoint,
    port,
    region,
    accessKeyId,
    secretAccessKey,
    async newBucket({ objectLock = false, prefix = '' } = {}) {
      const bucket = freshName('repo');
      await admin.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock }));
      return {
        type: 's3',
        url: `s3://${bucket}${prefix ? `/${prefix}` : ''}?endpoint=${endpoint}&pathStyle=true${objectLock ? '&objectLock=true' : ''}`,
        bucket,
        prefix,
        endpoint,
        region,
        forcePathStyle: true,
        credentials: { accessKeyId, secretAccessKey },
        objectLock,
      };
    },
    async stop() {
      admin.destroy();
      if (child) {
        await stopChild(child);
      }
      await dir.remove();
    },
  };
}
