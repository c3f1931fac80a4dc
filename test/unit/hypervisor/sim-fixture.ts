/** A throw-away simulated cluster for tests: two clustered hosts and a standalone one, in a temp folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { FileHost } from '../../../controller/hypervisor/filehost/filehost.js';
import { SimCluster, type VmSpec } from '../../../controller/hypervisor/filehost/sim.js';
import { vhdxToRaw } from '../../../controller/hypervisor/filehost/tools.js';
import { readFile } from 'node:fs/promises';

export const mib = 1024 * 1024;

export interface TestCluster {
  root: string;
  sim: SimCluster;
  node1: FileHost;
  node2: FileHost;
  standalone: FileHost;
  /** A running VM on node1 with one 16 MiB NTFS disk on the CSV. */
  createVm(spec?: Partial<VmSpec>): Promise<string>;
  /** The virtual bytes of a VHDX file. */
  readDisk(path: string): Promise<Buffer>;
  dispose(): Promise<void>;
}

export async function aCluster(): Promise<TestCluster> {
  const root = await mkdtemp(`${tmpdir()}/shadowkeep-sim-`);
  const sim = new SimCluster(root);
  await sim.createHost({ name: 'hv-node-1', cluster: 'hvclu01' });
  await sim.createHost({ name: 'hv-node-2', cluster: 'hvclu01' });
  await sim.createHost({ name: 'hv-solo' });
  let reads = 0;
  return {
    root,
    sim,
    node1: new FileHost({ root, node: 'hv-node-1' }),
    node2: new FileHost({ root, node: 'hv-node-2' }),
    standalone: new FileHost({ root, node: 'hv-solo' }),
    async createVm(spec = {}) {
      const vm = await sim.createVm({
        name: 'sql01',
        owner: 'hv-node-1',
        storage: `${root}/csv/Volume1`,
        disks: [
          {
            kind: 'Ntfs',
            sizeBytes: 16 * mib,
            files: [{ name: 'hello.txt', data: Buffer.from('hello from the guest\n') }],
          },
        ],
        running: true,
        ...spec,
      });
      return vm.id;
    },
    async readDisk(path) {
      reads += 1;
      const raw = `${root}/read-${reads}.raw`;
      await vhdxToRaw(path, raw);
      try {
        return await readFile(raw);
      } finally {
        await rm(raw, { force: true });
      }
    },
    async dispose() {
      await rm(root, { recursive: true, force: true });
    },
  };
}
