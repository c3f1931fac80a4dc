// Issue 11, part 6: security checks. The rendered chart grants each process exactly the access the
// design gives it (docs/operations.md), with no wildcard and Secrets only readable by name; a real
// backup through the agent of a guest disk holding a marker leaves neither the marker nor the VM's
// names readable in any stored file; the repository password (and any storage key in the
// environment) reaches no log line and no Event. The agent admission policy's cross-node refusals
// with two node-bound agent identities are in test/integration/chart/node-restriction.test.ts.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { RecoveryPoint } from '../../controller/api/index.js';
import { eventually } from '../support/eventually.js';
import type { Manifest } from '../support/kube.js';
import { REPOSITORY_PASSWORD, startEnvironment, type Environment } from '../support/shadowkeep-env.js';
import { renderChart } from '../integration/chart/helm.js';
import { storedKeys } from './support/backed-up-repository.js';
import { backupDisk } from '../../controller/datapath/backup.js';
import { tempDir } from '../support/disk-images.js';
import { makeRepository } from '../support/repositories.js';
import { printFigures } from './support/settings.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

const rp = 'shadowkeep.io/recoverypoints';
/**
 * What each process needs, from docs/operations.md and the design: the controller reads every kind,
 * creates and deletes recovery points, writes statuses, records Events, holds its leader lease and
 * reads repository key Secrets by name; agents read and write their node's objects and report on
 * its restores (the admission policy narrows them to their node), read repositories and their key
 * Secrets by name.
 */
const NEEDED: Record<string, string[]> = {
  controller: [
    ...[
      'virtualmachineprotections',
      'recoverypoints',
      'backuprepositories',
      'hypervhosts',
      'hypervvirtualmachines',
      'virtualmachinerestores',
    ].flatMap((r) => ['get', 'list', 'watch'].map((v) => `shadowkeep.io/${r} ${v}`)),
    `${rp} create`,
    `${rp} delete`,
    `${rp} patch`,
    'shadowkeep.io/virtualmachineprotections patch',
    // It assigns each restore to the node that writes it (a label) and reports on it; Boot
    // verification creates a BootTest restore.
    'shadowkeep.io/virtualmachinerestores create',
    'shadowkeep.io/virtualmachinerestores patch',
    ...[
      'virtualmachineprotections',
      'recoverypoints',
      'backuprepositories',
      'hypervvirtualmachines',
      'virtualmachinerestores',
    ].map((r) => `shadowkeep.io/${r}/status patch`),
    'core/events create',
    'core/events patch',
    'coordination.k8s.io/leases create',
    'coordination.k8s.io/leases[shadowkeep-controller] get',
    'coordination.k8s.io/leases[shadowkeep-controller] update',
    'core/secrets get',
  ],
  agent: [
    ...['get', 'list', 'watch', 'patch'].map((v) => `${rp} ${v}`),
    `${rp}/status get`,
    `${rp}/status patch`,
    'shadowkeep.io/backuprepositories get',
    ...['get', 'list', 'watch', 'create', 'patch', 'delete'].map(
      (v) => `shadowkeep.io/hypervvirtualmachines ${v}`,
    ),
    'shadowkeep.io/hypervvirtualmachines/status get',
    'shadowkeep.io/hypervvirtualmachines/status patch',
    ...['get', 'create', 'patch'].map((v) => `shadowkeep.io/hypervhosts ${v}`),
    'shadowkeep.io/hypervhosts/status get',
    'shadowkeep.io/hypervhosts/status patch',
    // Restores run on the node that writes the data: agents watch them and report on their node's.
    ...['get', 'list', 'watch'].map((v) => `shadowkeep.io/virtualmachinerestores ${v}`),
    'shadowkeep.io/virtualmachinerestores/status get',
    'shadowkeep.io/virtualmachinerestores/status patch',
    'core/secrets get',
  ],
};

/** Each service account's grants, as `group/resource[name] verb`, following bindings to roles. */
function grantsOf(objects: Manifest[]): Map<string, { grant: string; rule: Rule; role: string }[]> {
  const roles = new Map(
    objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .map((o) => [`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, o]),
  );
  const grants = new Map<string, { grant: string; rule: Rule; role: string }[]>();
  for (const binding of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const ref = binding.roleRef as { kind: string; name: string };
    const role = roles.get(
      `${ref.kind}/${ref.kind === 'Role' ? (binding.metadata?.namespace ?? '') : ''}/${ref.name}`,
    );
    for (const subject of (binding.subjects as { name: string }[] | undefined) ?? []) {
      const account = subject.name.replace(/^.*-shadowkeep-/, '');
      for (const rule of (role?.rules as Rule[] | undefined) ?? []) {
        for (const group of rule.apiGroups ?? ['(none)']) {
          for (const resource of rule.resources ?? rule.nonResourceURLs ?? []) {
            for (const name of rule.resourceNames ?? ['']) {
              for (const verb of rule.verbs ?? []) {
                const grant = `${group === '' ? 'core' : group}/${resource}${name ? `[${name}]` : ''} ${verb}`;
                grants.set(account, [...(grants.get(account) ?? []), { grant, rule, role: ref.name }]);
              }
            }
          }
        }
      }
    }
  }
  return grants;
}

/** Every log line, as written: a winston logger at debug level that keeps what it writes. */
function capturingLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

/** The secrets a run may hold: the repository password, and storage keys when the environment has them. */
function secretsToLookFor(wrongPassword: string): { name: string; value: string }[] {
  const storageKeys = Object.entries(process.env)
    .filter(
      ([name, value]) =>
        /(SECRET|ACCESS_KEY|ACCOUNT_KEY|STORAGE_KEY|SAS|PASSWORD)/i.test(name) && (value?.length ?? 0) >= 8,
    )
    .map(([name, value]) => ({ name, value: value ?? '' }));
  return [
    { name: 'repository password', value: REPOSITORY_PASSWORD },
    { name: 'repository password (base64)', value: Buffer.from(REPOSITORY_PASSWORD).toString('base64') },
    { name: 'wrong password', value: wrongPassword },
    { name: 'wrong password (base64)', value: Buffer.from(wrongPassword).toString('base64') },
    ...storageKeys,
  ];
}

describe('security checks', function () {
  this.timeout(10 * 60_000);

  it('grants each service account exactly what the design needs: no wildcard, Secrets only by get', async () => {
    const rows = [];
    for (const [label, values] of [
      ['cluster-wide Secrets', {}],
      ['Secrets in listed namespaces', { 'rbac.secretNamespaces': ['team-a', 'team-b'] }],
    ] as const) {
      const { objects } = await renderChart('sk', 'shadowkeep-system', values);
      const grants = grantsOf(objects);
      expect([...grants.keys()].sort()).to.deep.equal(['agent', 'controller']);
      for (const [account, list] of grants) {
        const beyond = list.filter((g) => !NEEDED[account]?.includes(g.grant));
        const wildcards = list.filter((g) => g.grant.includes('*'));
        const secretVerbs = [
          ...new Set(list.filter((g) => g.grant.startsWith('core/secrets')).map((g) => g.grant)),
        ];
        const missing = (NEEDED[account] ?? []).filter((n) => !list.some((g) => g.grant === n));
        rows.push({
          chart: label,
          account,
          grants: new Set(list.map((g) => g.grant)).size,
          'beyond the design': beyond.length,
          wildcards: wildcards.length,
          'Secret access': secretVerbs.join(', ').replaceAll('core/secrets ', ''),
        });
        expect(
          beyond.map((g) => `${g.role}: ${g.grant}`),
          account,
        ).to.deep.equal([]);
        expect(wildcards, account).to.deep.equal([]);
        expect(missing, `${account} lacks what it needs`).to.deep.equal([]);
        expect(secretVerbs).to.deep.equal(['core/secrets get']);
      }
      if ('rbac.secretNamespaces' in values) {
        // Secrets are then readable only in the listed namespaces, through namespaced Roles.
        const secretRoles = objects.filter((o) => JSON.stringify(o.rules ?? []).includes('secrets'));
        expect(secretRoles.map((o) => `${o.kind} ${o.metadata?.namespace ?? ''}`)).to.deep.equal([
          'Role team-a',
          'Role team-b',
        ]);
      }
    }
    printFigures('Security: RBAC of the rendered chart', rows);
  });

  describe('a backup through the agent', () => {
    let env: Environment;
    const { logger, lines } = capturingLogger();
    // Random, so it can only be in a stored file if the file holds the guest's data in the clear.
    const marker = `SHADOWKEEP-MARKER-${randomBytes(12).toString('hex')}`;
    const vmName = `marker-vm-${randomBytes(3).toString('hex')}`;
    let point: RecoveryPoint;
    let wrong: RecoveryPoint;
    let diskPath = '';
    // A second repository whose Secret holds the wrong password: failure paths are where keys leak.
    const wrongPassword = `wrong-password-${randomBytes(8).toString('hex')}`;

    const finished = (name: string): Promise<RecoveryPoint> =>
      eventually(
        async () => {
          const found = await env.clients.recoveryPoints.get(name, env.namespace);
          if (found?.status?.phase !== 'Completed' && found?.status?.phase !== 'Failed') {
            throw new Error(`${name} is ${found?.status?.phase ?? 'not there'}`);
          }
          return found;
        },
        { timeoutMs: 120_000, what: `recovery point ${name} to finish` },
      );

    before(async function () {
      this.timeout(5 * 60_000);
      env = await startEnvironment({ nodes: 1, logger });
      const vm = await env.sim.createVm({
        name: vmName,
        owner: env.nodes[0]!,
        storage: env.sim.layout.csvVolume('Volume1'),
        // The marker in a guest file's data and in its name, on a real NTFS volume in a VHDX.
        disks: [
          {
            kind: 'Ntfs',
            sizeBytes: 16 * 1024 * 1024,
            files: [{ name: `${marker}.txt`, data: Buffer.from(`${marker}\n`.repeat(64)) }],
          },
        ],
        running: true,
      });
      diskPath = vm.disks[0]?.path ?? '';
      const backUp = (name: string, repository: string) =>
        env.clients.recoveryPoints.create({
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'RecoveryPoint',
          metadata: { name, namespace: env.namespace },
          spec: { vm: { name: vmName }, repository },
        });
      await backUp('marker-1', 'primary');
      point = await finished('marker-1');
      // Only now does the storage hold a repository (the first backup creates it), so the second
      // BackupRepository's first check meets it with the wrong password.
      await env.addRepository('wrong', env.repoDir, wrongPassword);
      await backUp('wrong-1', 'wrong');
      wrong = await finished('wrong-1');
    });
    after(async () => {
      await env.stop();
    });

    it('stores no byte of the guest, nor its names, in the clear, with or without compression', async () => {
      expect(point.status?.phase, JSON.stringify(point.status?.failure)).to.equal('Completed');
      const needles = [
        { what: 'marker (guest file data and name)', bytes: Buffer.from(marker) },
        { what: 'marker as UTF-16 (NTFS file name)', bytes: Buffer.from(marker, 'utf16le') },
        { what: 'VM name', bytes: Buffer.from(vmName) },
      ];
      // The guest disk holds the marker in the clear: a search of stored files would find it there.
      const guest = await readFile(diskPath);
      expect(needles.slice(0, 2).every((n) => guest.includes(n.bytes))).to.be.true;

      // zstd alone could hide a repeated marker; a repository that stores chunks uncompressed shows
      // that encryption is what keeps it out.
      const scratch = await tempDir('shadowkeep-plain-');
      const uncompressed = scratch.file('repo');
      const { repo } = await makeRepository(uncompressed, { compressionLevel: 0 });
      await backupDisk(repo, diskPath, { name: `${vmName}/disk0`, threads: 1 });

      const rows = [];
      const hits: string[] = [];
      for (const [label, root] of [
        ['agent backup (zstd, the default level)', env.repoDir],
        ['uncompressed repository', uncompressed],
      ] as const) {
        const keys = await storedKeys(root);
        let bytes = 0;
        let found = 0;
        for (const key of keys) {
          const data = await readFile(`${root}/${key}`);
          bytes += data.length;
          const inFile = needles
            .filter((n) => data.includes(n.bytes))
            .map((n) => `${label} ${key}: ${n.what}`);
          found += inFile.length;
          hits.push(...inFile);
        }
        expect(
          keys.filter((k) => k.startsWith('packs/')),
          label,
        ).to.not.be.empty;
        rows.push({
          repository: label,
          'stored files': keys.length,
          'bytes searched': bytes,
          'strings searched': needles.length,
          hits: found,
        });
      }
      await scratch.remove();
      printFigures('Security: plaintext in the repository after a real backup', rows);
      expect(hits).to.deep.equal([]);
    });

    it('writes no secret to a log line, an Event or a status', async () => {
      // The repository check records WrongKey on its own schedule: wait for it, so the failure
      // path's Event is among those searched.
      const events = await eventually(
        async () => {
          const list = await env.rest.request<{ items: { message?: string; reason?: string }[] }>(
            'GET',
            '/api/v1/events',
          );
          if (!list.items.some((e) => e.reason === 'WrongKey')) {
            throw new Error(`no WrongKey Event yet among ${list.items.length}`);
          }
          return list;
        },
        { timeoutMs: 60_000, what: 'the WrongKey Event of the repository with the wrong password' },
      );
      const objects = JSON.stringify([
        await env.clients.recoveryPoints.list(env.namespace),
        await env.clients.repositories.list(env.namespace),
      ]);
      const secrets = secretsToLookFor(wrongPassword);
      const where = [
        { what: 'log lines', texts: lines },
        { what: 'Events', texts: events.items.map((e) => JSON.stringify(e)) },
        { what: 'statuses', texts: [objects] },
      ];
      const leaks = where.flatMap((w) =>
        secrets.filter((s) => w.texts.some((t) => t.includes(s.value))).map((s) => `${s.name} in ${w.what}`),
      );
      printFigures(
        'Security: secrets in logs, Events and statuses of a backup run',
        where.map((w) => ({
          searched: w.what,
          items: w.texts.length,
          'secrets looked for': secrets.length,
          leaks: leaks.filter((l) => l.endsWith(w.what)).length,
        })),
      );
      // The run did log, record Events and fail on the wrong key: an empty haystack would prove nothing.
      expect(wrong.status?.phase).to.equal('Failed');
      expect(lines.length).to.be.greaterThan(0);
      expect(leaks).to.deep.equal([]);
    });
  });
});
