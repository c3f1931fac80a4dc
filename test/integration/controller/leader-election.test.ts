import { execa, type ResultPromise } from 'execa';
import { expect } from 'chai';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeRest } from '../../../controller/kube/rest.js';
import { clientsFor } from '../../../controller/manager/world.js';
import { eventually } from '../../support/eventually.js';
import { createNamespace, deleteNamespace, repoRoot } from '../../support/kube.js';

interface Lease {
  spec: { holderIdentity?: string };
}

describe('controller leader election', function () {
  this.timeout(120_000);
  let namespace: string;
  const replicas: ResultPromise[] = [];

  before(async () => {
    namespace = await createNamespace('sk-leader');
  });

  after(async () => {
    for (const replica of replicas) {
      replica.kill('SIGKILL');
    }
    await deleteNamespace(namespace);
  });

  it('hands over to the standby replica within 20 seconds when the leader is killed', async () => {
    const config = new KubeConfig();
    config.loadFromDefault();
    const rest = new KubeRest(config);
    const start = (): ResultPromise => {
      const replica = execa(
        path.join(repoRoot, 'bin/shadowkeep'),
        ['controller', '--namespace', namespace, '--metrics-port', '0'],
        {
          reject: false,
          stdio: 'ignore',
        },
      );
      replicas.push(replica);
      return replica;
    };
    const holder = async (): Promise<string> => {
      const lease = await rest.request<Lease>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/shadowkeep-controller`,
      );
      return lease.spec.holderIdentity ?? '';
    };

    const first = start();
    const firstLeader = await eventually(
      async () => {
        const h = await holder();
        expect(h).to.match(new RegExp(`-${first.pid}$`));
        return h;
      },
      { timeoutMs: 60_000, what: 'the first replica to lead' },
    );
    const second = start();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await holder(), 'the standby waits while the leader renews').to.equal(firstLeader);

    first.kill('SIGKILL');
    const killedAt = Date.now();
    await eventually(async () => expect(await holder()).to.match(new RegExp(`-${second.pid}$`)), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the standby to take the lease',
    });
    const handoverMs = Date.now() - killedAt;
    expect(handoverMs).to.be.below(20_000);

    // The new leader reconciles: a policy gets its status from it.
    const clients = clientsFor(rest);
    await clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name: 'after-handover', namespace },
      spec: {
        selector: { names: ['no-such-vm'] },
        schedule: { cron: '0 2 * * *' },
        repository: 'primary',
        retention: { keepLast: 1 },
      },
    });
    await eventually(
      async () => {
        const policy = await clients.protections.get('after-handover', namespace);
        expect(policy?.status?.conditions?.find((c) => c.type === 'Ready')?.reason).to.equal(
          'RepositoryNotFound',
        );
      },
      { timeoutMs: 30_000, what: 'the new leader to reconcile a policy' },
    );
  });
});
