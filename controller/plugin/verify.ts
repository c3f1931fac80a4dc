/**
 * `kubectl shadowkeep verify <recovery-point>`: asks the controller to verify a recovery point now
 * (the annotation shadowkeep.io/verify-requested, read by the verification reconciler) and waits
 * for the result in status.verification. Boot runs through a BootTest restore the controller creates.
 */
import { annotations, type RecoveryPoint } from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { connectPlugin } from './connect.js';
import { commonUsage, renderStructured, type Palette } from './output.js';
import { oneName, pluginVerb, writeOutcome } from './verb.js';
import { stillGoingOn, timeoutOf, waitForAll, waitOptions } from './wait.js';

const levels = ['Checksums', 'Filesystem', 'Boot'];

/** The annotations that ask for a verification at `now`, at `level` or the policy's. */
export function verifyRequest(now: Date, level?: string): Record<string, string | null> {
  if (level !== undefined && !levels.includes(level)) {
    throw new UserError(`--level must be one of ${levels.join(', ')} (got '${level}')`, ExitCode.usage);
  }
  // A level left over from an earlier request must not apply to this one.
  return { [annotations.verifyRequested]: now.toISOString(), [annotations.verifyLevel]: level ?? null };
}

/** The result for people: passed or failed, how deep, and what the verification found. */
export function verificationLine(rp: RecoveryPoint, colours: Palette): string {
  const v = rp.status?.verification;
  if (!v) {
    return `recoverypoint/${rp.metadata.name}: not verified`;
  }
  const result = v.result === 'Passed' ? colours.green('Passed') : colours.red('Failed');
  return `recoverypoint/${rp.metadata.name} verification ${result} (${v.level}): ${v.message ?? ''}`;
}

const usage =
  'Usage: kubectl shadowkeep verify <recovery-point> [--level Checksums|Filesystem|Boot] [options]\n' +
  'Asks the controller to verify a recovery point now and waits for the result (exit code 1 if it\n' +
  'failed). Checksums reads every chunk back; Filesystem also walks every NTFS volume; Boot also\n' +
  'starts the point as a test VM on an isolated switch (a BootTest restore), awaits its heartbeat\n' +
  'and removes it.\n' +
  "  --level LEVEL           how deep (default: the policy's spec.verification.level, else Checksums)\n" +
  '  --no-wait               ask and return\n' +
  '  --timeout DURATION      give up waiting after this long (default 2h)\n' +
  commonUsage;

export const verifyCommand = pluginVerb({
  name: 'verify',
  summary: 'verify a recovery point now (read back, walk its file systems, boot it) and wait for the result',
  usage,
  options: { level: { type: 'string' }, ...waitOptions },
  positionals: true,
  async run({ values, positionals, format, namespace }) {
    const name = oneName(positionals, 'recovery point', usage);
    const timeoutMs = timeoutOf(values.timeout);
    const request = verifyRequest(new Date(), values.level);
    const { clients } = connectPlugin();
    const before = await clients.recoveryPoints.get(name, namespace);
    if (!before) {
      throw new UserError(`no recovery point '${name}' in namespace ${namespace}`);
    }
    if (before.status?.phase !== 'Completed') {
      throw new UserError(
        `recovery point ${name} is ${before.status?.phase ?? 'Pending'}; only a Completed one can be verified`,
      );
    }
    await clients.recoveryPoints.mergePatch(name, namespace, { metadata: { annotations: request } });
    if (format === 'table') {
      process.stdout.write(`recoverypoint/${name} verification requested\n`);
    }
    if (values['no-wait']) {
      return ExitCode.ok;
    }
    // Done when the controller answered this very request (status.verification.request).
    const asked = request[annotations.verifyRequested];
    const answered = (rp: RecoveryPoint | undefined): boolean => rp?.status?.verification?.request === asked;
    const latest = await waitForAll({
      names: [name],
      fetch: (n) => clients.recoveryPoints.get(n, namespace),
      done: answered,
      view: (rp) => ({ status: { phase: answered(rp) ? 'Completed' : 'Verifying' } }),
      timeoutMs,
      ...stillGoingOn(
        values.timeout,
        'the verification goes on',
        `kubectl describe rp -n ${namespace} ${name}`,
      ),
    });
    const rp = latest.get(name);
    if (!rp) {
      throw new UserError(`recovery point ${name} was deleted while it was being verified`);
    }
    const failed = rp.status?.verification?.result !== 'Passed';
    if (format === 'table') {
      writeOutcome(failed, (colours) => verificationLine(rp, colours));
    } else {
      process.stdout.write(renderStructured(rp, format));
    }
    return failed ? ExitCode.failed : ExitCode.ok;
  },
});
