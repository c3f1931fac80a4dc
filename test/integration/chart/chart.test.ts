// The Helm chart (issue 10, item 1): it lints clean, its values schema refuses wrong values, every
// object it renders is accepted by the real API server, and it installs and upgrades into the local
// control plane (no kubelet there, so pods never run, but every object must be accepted).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import {
  createNamespace,
  deleteNamespace,
  kubectl,
  repoRoot,
  type Manifest,
  useNamespace,
} from '../../support/kube.js';
import { chartDir, helm, renderChart, setArgs } from './helm.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

interface PodSpecLike {
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  securityContext?: Record<string, unknown>;
  containers: {
    args?: string[];
    command?: string[];
    env?: { name: string; valueFrom?: unknown }[];
    securityContext?: Record<string, unknown>;
  }[];
}

const everythingOn = {
  'metrics.serviceMonitor.enabled': true,
  'metrics.prometheusRule.enabled': true,
  'metrics.kubeStateMetrics.enabled': true,
  'metrics.dashboard.enabled': true,
};

const podSpecOf = (object: Manifest | undefined): PodSpecLike => {
  const spec = object?.spec as { template: { spec: PodSpecLike } } | undefined;
  if (!spec) {
    throw new Error('no such workload in the rendered chart');
  }
  return spec.template.spec;
};

describe('the Helm chart', () => {
  it('passes helm lint --strict, with the defaults and with every optional part on', async () => {
    for (const values of [
      {},
      everythingOn,
      { 'rbac.secretNamespaces': ['team-a'], 'agent.enabled': false },
    ]) {
      const result = await helm(['lint', '--strict', chartDir, ...setArgs(values)]);
      expect(result.exitCode, result.stdout + result.stderr).to.equal(0);
      expect(result.stdout).to.include('0 chart(s) failed');
    }
  });

  it('refuses wrong values through values.schema.json before anything reaches the cluster', async () => {
    const wrong: Record<string, unknown>[] = [
      { 'controller.replicas': 0 },
      { 'controller.replicas': 'two' },
      { 'controller.logLevel': 'verbose' },
      { 'agent.hypervNodeLabel.key': '' },
      { 'agent.maxJobs': -1 },
      { 'metrics.prometheusRule.for': 15 },
      { 'rbac.secretNamespaces': ['Not_A_Namespace'] },
      { controler: { replicas: 2 } }, // a typo at the top level is not silently ignored
    ];
    for (const values of wrong) {
      const result = await helm(['template', 'sk', chartDir, ...setArgs(values)]);
      expect(result.exitCode, `accepted ${JSON.stringify(values)}`).to.not.equal(0);
      expect(result.stderr).to.include("don't meet the specifications of the schema");
    }
  });

  it('grants no wildcard and keeps secrets to get', async () => {
    const { objects } = await renderChart('sk', 'shadowkeep-system', everythingOn);
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    expect(roles.map((r) => r.metadata?.name)).to.include.members([
      'sk-shadowkeep-controller',
      'sk-shadowkeep-agent',
      'sk-shadowkeep-leader-election',
      'sk-shadowkeep-repository-secrets',
    ]);
    for (const role of roles) {
      for (const rule of (role.rules as Rule[] | undefined) ?? []) {
        const words = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])];
        expect(
          words.some((word) => word.includes('*')),
          `${role.metadata?.name ?? ''}: ${JSON.stringify(rule)}`,
        ).to.equal(false);
        if (rule.resources?.includes('secrets')) {
          expect(rule.verbs).to.deep.equal(['get']);
        }
      }
    }
  });

  it('renders a restricted controller and a HostProcess agent that knows its node', async () => {
    const { objects } = await renderChart('sk', 'shadowkeep-system');
    const controller = podSpecOf(objects.find((o) => o.kind === 'Deployment'));
    expect(controller.securityContext).to.include({ runAsNonRoot: true });
    expect(controller.securityContext?.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
    expect(controller.containers[0]?.securityContext).to.deep.include({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(controller.containers[0]?.args).to.deep.equal([
      'controller',
      '--namespace',
      '$(POD_NAMESPACE)',
      '--metrics-port',
      '8080',
    ]);

    const agent = podSpecOf(objects.find((o) => o.kind === 'DaemonSet'));
    expect(agent.hostNetwork).to.equal(true);
    expect(agent.nodeSelector).to.deep.equal({
      'kubernetes.io/os': 'windows',
      'shadowkeep.io/hyperv': 'true',
    });
    expect(agent.securityContext?.windowsOptions).to.deep.equal({
      hostProcess: true,
      runAsUserName: 'NT AUTHORITY\\SYSTEM',
    });
    expect(agent.containers[0]?.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom).to.deep.equal({
      fieldRef: { fieldPath: 'spec.nodeName' },
    });
    expect(agent.containers[0]?.command?.join(' ')).to.match(/agent --node %NODE_NAME% --hypervisor hyperv/);
  });

  it('alerts on the controller metrics, and on conditions only with kube-state-metrics', async () => {
    const alertsOf = async (values: Record<string, unknown>): Promise<string[]> => {
      const { objects } = await renderChart('sk', 'shadowkeep-system', values);
      const rule = objects.find((o) => o.kind === 'PrometheusRule');
      const spec = rule?.spec as { groups: { rules: { alert: string }[] }[] } | undefined;
      return (spec?.groups ?? []).flatMap((group) => group.rules.map((r) => r.alert));
    };
    const fromController = [
      'ShadowkeepVMRecoveryPointTooOld',
      'ShadowkeepRecoveryPointsFailing',
      'ShadowkeepVerificationFailed',
      'ShadowkeepAgentHeartbeatStale',
      'ShadowkeepControllerNoLeader',
      'ShadowkeepReconcileErrors',
      'ShadowkeepInformerStale',
    ];
    const fromConditions = [
      'ShadowkeepRPOMetFalse',
      'ShadowkeepRecoveryPointFailed',
      'ShadowkeepOffsiteInSyncFalse',
    ];
    expect(await alertsOf({ 'metrics.prometheusRule.enabled': true })).to.have.members(fromController);
    expect(await alertsOf(everythingOn)).to.have.members([...fromController, ...fromConditions]);
  });

  it('refuses clusters older than Kubernetes 1.30', async () => {
    const result = await helm(['template', 'sk', chartDir, '--kube-version', '1.29.0']);
    expect(result.exitCode).to.not.equal(0);
    expect(result.stderr).to.include('chart requires kubeVersion: >=1.30.0-0');
  });

  describe('owning the CRDs (crds.enabled)', () => {
    const namespace = useNamespace('chart-crds');
    const release = `skc-${Math.random().toString(36).slice(2, 7)}`;
    const crds = [
      'backuprepositories',
      'hypervhosts',
      'hypervvirtualmachines',
      'recoverypoints',
      'virtualmachineprotections',
      'virtualmachinerestores',
    ].map((plural) => `crd/${plural}.shadowkeep.io`);

    after(async function () {
      this.timeout(60_000);
      await helm(['uninstall', release, '--namespace', namespace.name]);
      // Hand the CRDs back to whoever applied them (the root hook), as before this test.
      await kubectl(['label', ...crds, 'app.kubernetes.io/managed-by-']);
      await kubectl(['annotate', ...crds, 'meta.helm.sh/release-name-', 'meta.helm.sh/release-namespace-']);
    });

    it('adopts CRDs that were applied from crds/, upgrades them, and keeps them on uninstall', async () => {
      // The README's recipe for CRDs applied by kubectl or a GitOps tool before the chart.
      const labelled = await kubectl(['label', '--overwrite', ...crds, 'app.kubernetes.io/managed-by=Helm']);
      expect(labelled.exitCode, labelled.stderr).to.equal(0);
      const annotated = await kubectl([
        'annotate',
        '--overwrite',
        ...crds,
        `meta.helm.sh/release-name=${release}`,
        `meta.helm.sh/release-namespace=${namespace.name}`,
      ]);
      expect(annotated.exitCode, annotated.stderr).to.equal(0);

      const install = await helm(['install', release, chartDir, '--namespace', namespace.name]);
      expect(install.exitCode, install.stderr).to.equal(0);
      const upgrade = await helm(['upgrade', release, chartDir, '--namespace', namespace.name]);
      expect(upgrade.exitCode, upgrade.stderr).to.equal(0);
      const kept = await kubectl([
        'get',
        ...crds,
        '-o',
        "jsonpath={range .items[*]}{.metadata.annotations['helm\\.sh/resource-policy']} {end}",
      ]);
      expect(kept.stdout.trim().split(' ')).to.deep.equal(Array<string>(crds.length).fill('keep'));

      const uninstall = await helm(['uninstall', release, '--namespace', namespace.name]);
      expect(uninstall.exitCode, uninstall.stderr).to.equal(0);
      const still = await kubectl(['get', ...crds, '-o', 'name']);
      expect(still.exitCode, still.stderr).to.equal(0);
      expect(still.stdout.trim().split('\n')).to.have.length(crds.length);
    });
  });

  describe('against the API server', () => {
    const namespace = useNamespace('chart');
    const release = `sk-${Math.random().toString(36).slice(2, 7)}`;
    let secretsNamespace = '';

    before(async function () {
      this.timeout(60_000);
      secretsNamespace = await createNamespace('chart-secrets');
      // The control plane has no Prometheus Operator: stand-in CRDs for ServiceMonitor and PrometheusRule.
      const crds = await readFile(
        path.join(repoRoot, 'test/integration/chart/fixtures/monitoring-crds.yaml'),
        'utf8',
      );
      const applied = await kubectl(['apply', '--server-side', '-f', '-'], { input: crds });
      expect(applied.exitCode, applied.stderr).to.equal(0);
      const established = await kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=30s',
        'crd/servicemonitors.monitoring.coreos.com',
        'crd/prometheusrules.monitoring.coreos.com',
      ]);
      expect(established.exitCode, established.stderr).to.equal(0);
    });

    after(async function () {
      this.timeout(60_000);
      // Cluster-scoped objects (ClusterRoles, the admission policy) outlive the namespace.
      await helm(['uninstall', release, '--namespace', namespace.name]);
      if (secretsNamespace) {
        await deleteNamespace(secretsNamespace);
      }
    });

    it('accepts every rendered object in a server-side dry run', async () => {
      const { text, objects } = await renderChart(release, namespace.name, {
        ...everythingOn,
        'rbac.secretNamespaces': [namespace.name, secretsNamespace],
      });
      expect(new Set(objects.map((o) => o.kind))).to.include.members([
        'CustomResourceDefinition',
        'Deployment',
        'DaemonSet',
        'PodDisruptionBudget',
        'Service',
        'ServiceMonitor',
        'PrometheusRule',
        'ConfigMap',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ]);
      const result = await kubectl(
        ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'],
        {
          input: text,
        },
      );
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout.trim().split('\n')).to.have.length(objects.length);
    });

    it('installs, then upgrades with changed values', async () => {
      // The root hook installed the CRDs with kubectl; Helm would refuse to adopt them.
      const install = await helm([
        'install',
        release,
        chartDir,
        '--namespace',
        namespace.name,
        ...setArgs({ 'crds.enabled': false, ...everythingOn }),
      ]);
      expect(install.exitCode, install.stderr).to.equal(0);
      const installed = await kubectl([
        'get',
        'deployment,daemonset,poddisruptionbudget,service,serviceaccount,role,rolebinding,servicemonitor,prometheusrule,configmap',
        '-n',
        namespace.name,
        '-o',
        'name',
      ]);
      expect(installed.stdout.split('\n')).to.include.members([
        `deployment.apps/${release}-shadowkeep-controller`,
        `daemonset.apps/${release}-shadowkeep-agent`,
        `poddisruptionbudget.policy/${release}-shadowkeep-controller`,
        `service/${release}-shadowkeep-controller-metrics`,
        `serviceaccount/${release}-shadowkeep-controller`,
        `serviceaccount/${release}-shadowkeep-agent`,
        `role.rbac.authorization.k8s.io/${release}-shadowkeep-leader-election`,
        `servicemonitor.monitoring.coreos.com/${release}-shadowkeep-controller`,
        `prometheusrule.monitoring.coreos.com/${release}-shadowkeep`,
      ]);

      const upgrade = await helm([
        'upgrade',
        release,
        chartDir,
        '--namespace',
        namespace.name,
        ...setArgs({
          'crds.enabled': false,
          'controller.replicas': 3,
          'agent.maxJobs': 2,
          'rbac.secretNamespaces': [secretsNamespace],
        }),
      ]);
      expect(upgrade.exitCode, upgrade.stderr).to.equal(0);
      const replicas = await kubectl([
        'get',
        'deployment',
        `${release}-shadowkeep-controller`,
        '-n',
        namespace.name,
        '-o',
        'jsonpath={.spec.replicas}',
      ]);
      expect(replicas.stdout).to.equal('3');
      // Switching to per-namespace Roles removed the cluster-wide Secret access, and the monitoring objects.
      const gone = await kubectl(['get', 'clusterrole', `${release}-shadowkeep-repository-secrets`]);
      expect(gone.exitCode).to.not.equal(0);
      const scoped = await kubectl([
        'get',
        'role',
        `${release}-shadowkeep-repository-secrets`,
        '-n',
        secretsNamespace,
      ]);
      expect(scoped.exitCode, scoped.stderr).to.equal(0);
      const status = await helm(['status', release, '--namespace', namespace.name, '-o', 'json']);
      expect((JSON.parse(status.stdout) as { version: number }).version).to.equal(2);
    });

    // After the upgrade above: Secrets are readable in secretsNamespace only.
    it('gives each service account exactly the access its process needs', async () => {
      const controller = `system:serviceaccount:${namespace.name}:${release}-shadowkeep-controller`;
      const agent = `system:serviceaccount:${namespace.name}:${release}-shadowkeep-agent`;
      const cases: [string, string[], boolean][] = [
        [controller, ['patch', 'recoverypoints.shadowkeep.io', '--subresource=status', '-n', 'team-a'], true],
        [controller, ['delete', 'recoverypoints.shadowkeep.io', '-n', 'team-a'], true],
        [controller, ['patch', 'virtualmachineprotections.shadowkeep.io', '-n', 'team-a'], true],
        [controller, ['update', 'virtualmachineprotections.shadowkeep.io', '-n', 'team-a'], false],
        [controller, ['delete', 'hypervhosts.shadowkeep.io'], false],
        [controller, ['patch', 'virtualmachinerestores.shadowkeep.io', '-n', 'team-a'], true],
        [
          controller,
          ['patch', 'virtualmachinerestores.shadowkeep.io', '--subresource=status', '-n', 'team-a'],
          true,
        ],
        // Boot verification creates a BootTest restore beside the point it verifies.
        [controller, ['create', 'virtualmachinerestores.shadowkeep.io', '-n', 'team-a'], true],
        [controller, ['delete', 'virtualmachinerestores.shadowkeep.io', '-n', 'team-a'], false],
        [controller, ['get', 'secrets', '-n', secretsNamespace], true],
        [controller, ['get', 'secrets', '-n', 'kube-system'], false],
        [controller, ['list', 'secrets', '-n', secretsNamespace], false],
        [
          controller,
          ['update', 'leases.coordination.k8s.io/shadowkeep-controller', '-n', namespace.name],
          true,
        ],
        [controller, ['update', 'leases.coordination.k8s.io/someone-else', '-n', namespace.name], false],
        [controller, ['create', 'leases.coordination.k8s.io', '-n', 'kube-system'], false],
        [agent, ['patch', 'recoverypoints.shadowkeep.io', '--subresource=status', '-n', 'team-a'], true],
        [agent, ['delete', 'recoverypoints.shadowkeep.io', '-n', 'team-a'], false],
        [agent, ['create', 'recoverypoints.shadowkeep.io', '-n', 'team-a'], false],
        [agent, ['watch', 'virtualmachinerestores.shadowkeep.io', '-n', 'team-a'], true],
        [
          agent,
          ['patch', 'virtualmachinerestores.shadowkeep.io', '--subresource=status', '-n', 'team-a'],
          true,
        ],
        [agent, ['patch', 'virtualmachinerestores.shadowkeep.io', '-n', 'team-a'], false],
        [agent, ['create', 'hypervhosts.shadowkeep.io'], true],
        [agent, ['delete', 'hypervhosts.shadowkeep.io'], false],
        [agent, ['delete', 'hypervvirtualmachines.shadowkeep.io'], true],
        [agent, ['list', 'virtualmachineprotections.shadowkeep.io', '-n', 'team-a'], false],
        [agent, ['patch', 'backuprepositories.shadowkeep.io', '-n', 'team-a'], false],
        [agent, ['create', 'leases.coordination.k8s.io', '-n', namespace.name], false],
      ];
      const wrong: string[] = [];
      for (const [user, args, expected] of cases) {
        const result = await kubectl(['auth', 'can-i', ...args, '--as', user]);
        if ((result.stdout.trim() === 'yes') !== expected) {
          wrong.push(`${user.split(':').at(-1) ?? ''} ${args.join(' ')}: ${result.stdout.trim()}`);
        }
      }
      expect(wrong).to.deep.equal([]);
    });
  });
});
