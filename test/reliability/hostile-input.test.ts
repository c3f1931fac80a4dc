// Issue 11, part 5: input made to break things. VM names and paths built to break PowerShell quoting
// go through the hyperv backend to a real process (a stand-in for powershell.exe that decodes its
// arguments as the script's prelude does): each must be refused by validation or arrive as exactly
// the same data, never as script text. A real NTFS volume whose names climb out (`..`, `/`, NUL,
// absolute paths), name devices or streams, is restored whole: nothing may land outside the
// destination and nothing may be lost. The API side (invalid manifests) is in test/integration/api.
import { expect } from 'chai';
import { mkdir, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { openVirtualDisk } from '../../controller/disk/index.js';
import type { VirtualDisk } from '../../controller/disk/virtual-disk.js';
import { HyperVHost } from '../../controller/hypervisor/hyperv/hyperv.js';
import {
  execaRunner,
  wrapScript,
  type PowerShellInvocation,
  type PowerShellOutput,
} from '../../controller/hypervisor/hyperv/powershell.js';
import { scripts } from '../../controller/hypervisor/hyperv/scripts.js';
import { HypervisorError, type ImportRequest } from '../../controller/hypervisor/types.js';
import { extract, type ExtractReport } from '../../controller/ilr/extract.js';
import { hostName } from '../../controller/ilr/host-names.js';
import { openVolume } from '../../controller/ilr/open-volume.js';
import { FileNotFoundError } from '../../controller/ntfs/errors.js';
import type { NtfsVolume } from '../../controller/ntfs/volume.js';
import { tempDir, type TempDir } from '../support/disk-images.js';
import { repoRoot } from '../support/kube.js';
import { PATCHED_NAMES, WRITABLE_NAMES, contentOf, hostileNtfsImage } from './support/hostile-ntfs.js';
import { printFigures } from './support/settings.js';

/** Strings that must be refused as names: control characters, hidden text, more than Hyper-V allows. */
const MUST_REFUSE = [
  "@'\nhere'@",
  'a\u0000b',
  'line\r\nbreak',
  'tab\there',
  '\u001b[31mred',
  '\u202egpj.exe',
  'iso\u2066late',
  'x'.repeat(101),
];

/** Strings made to end a PowerShell string, start a command, hide what they are, or overflow. */
const HOSTILE = [
  "'",
  '"',
  "'; Stop-Computer; '",
  '"; Stop-Computer; "',
  '`whoami`',
  '$(Stop-Computer)',
  '${env:PATH}',
  '$env:USERPROFILE',
  '@{a=1}',
  '& calc.exe',
  '| Out-File C:\\pwned',
  '# rest is a comment',
  '<# block #>',
  '\u2018single\u2019 \u201cdouble\u201d \u201elow\u201c \u201breversed',
  '\u2013Force \u2014Confirm \u2015x',
  '\uff04\uff08Stop-Computer\uff09',
  'zero\u200bwidth\u200djoin\ufeff',
  'lone \ud800 surrogate',
  'e\u0301 \u{1f680} 日本 Zürich',
  'x'.repeat(100),
  ...MUST_REFUSE,
];

/** Paths a request could name: each hostile string as a folder, and paths made to go elsewhere. */
const HOSTILE_PATHS = [
  ...HOSTILE.map((s) => `D:\\VMs\\${s.replaceAll('\\', '')}`),
  '..\\..\\Windows',
  'D:\\VMs\\..\\..\\Windows\\System32',
  'C:relative',
  'relative\\path',
  '\\\\?\\GLOBALROOT\\Device\\HarddiskVolume1\\x',
  '\\\\attacker\\share\\x',
  'D:\\VMs\\CON',
  'D:\\VMs\\a:stream',
  `D:\\${'deep\\'.repeat(6000)}vm`,
];

const sql01 = '1a2b3c4d-0000-4000-8000-000000000001';

/** A copy restore of sql01's configuration into `vmPath`, as the restore job asks for one. */
const importOf = (vmPath: string): ImportRequest => ({
  configuration: Buffer.from('vmcx'),
  configurationName: `${sql01.toUpperCase()}.vmcx`,
  vmPath,
  identity: 'New',
  disks: [],
});

interface Sent {
  invocation: PowerShellInvocation;
  output: PowerShellOutput;
}

type Verdict = 'refused' | 'data' | 'script text' | 'altered';

describe('hostile input', function () {
  this.timeout(10 * 60_000);

  describe('VM names and paths against the PowerShell backend', () => {
    const fake = join(repoRoot, 'test/fixtures/powershell/fake-powershell.mjs');
    const verdicts: { field: string; value: string; verdict: Verdict }[] = [];
    after(() => {
      const rows = ['new VM name', 'restore folder', 'storage destination'].map((field) => {
        const of = verdicts.filter((v) => v.field === field);
        const count = (verdict: Verdict) => of.filter((v) => v.verdict === verdict).length;
        return {
          field,
          inputs: of.length,
          'refused by validation': count('refused'),
          'sent as data, intact': count('data'),
          'reached script text': count('script text'),
          'altered in transit': count('altered'),
        };
      });
      printFigures('Hostile input: PowerShell quoting', rows);
    });

    /** Runs one call through a real process; judges where `value` ended up. */
    async function judge(field: string, value: string, call: (host: HyperVHost) => Promise<unknown>) {
      const sent: Sent[] = [];
      const written: string[] = [];
      const real = execaRunner(fake);
      const host = new HyperVHost({
        node: 'hv-node-1',
        runner: async (invocation) => {
          const output = await real(invocation);
          sent.push({ invocation, output });
          return output;
        },
        // The restored configuration goes to a Windows path on the host; here it is only checked
        // to land inside the requested (validated) folder.
        writeFile: (path) => {
          written.push(path);
          return Promise.resolve();
        },
      });
      const err = await call(host).then(
        () => undefined,
        (e: unknown) => e,
      );
      const calls = sent.filter((s) => s.invocation.operation !== 'host');
      let verdict: Verdict;
      if (calls.length === 0) {
        expect(err, `${field} ${JSON.stringify(value)}`).to.be.instanceOf(HypervisorError);
        expect((err as HypervisorError).code).to.equal('InvalidState');
        verdict = 'refused';
      } else {
        const [{ invocation, output }] = calls as [Sent];
        const fixed = wrapScript(scripts[invocation.operation as keyof typeof scripts]);
        const echoed = (JSON.parse(output.stdout) as { result: { args: unknown } }).result.args;
        verdict =
          invocation.script !== fixed
            ? 'script text'
            : JSON.stringify(echoed).includes(JSON.stringify(value))
              ? 'data'
              : 'altered';
      }
      verdicts.push({ field, value, verdict });
      for (const path of written) {
        expect(path.startsWith('D:\\') || path.startsWith(value), path).to.be.true;
        expect(path.split('\\'), path).to.not.include('..');
      }
      return verdict;
    }

    it('sends every hostile VM name as data or refuses it, never as script text', async () => {
      for (const name of HOSTILE) {
        const verdict = await judge('new VM name', name, (host) =>
          host.importVm({ ...importOf('D:\\R'), newName: name }),
        );
        expect(verdict, JSON.stringify(name)).to.be.oneOf(['refused', 'data']);
      }
      const refused = verdicts.filter((v) => v.field === 'new VM name' && v.verdict === 'refused');
      expect(refused.map((v) => v.value)).to.have.members(MUST_REFUSE);
    });

    it('sends every hostile path as data or refuses it, never as script text', async () => {
      for (const path of HOSTILE_PATHS) {
        const restore = await judge('restore folder', path, (host) => host.importVm(importOf(path)));
        const move = await judge('storage destination', path, (host) => host.moveStorage(sql01, path));
        expect([restore, move], JSON.stringify(path)).to.satisfy((v: Verdict[]) =>
          v.every((x) => x === 'refused' || x === 'data'),
        );
      }
      for (const climbing of [
        '..\\..\\Windows',
        'D:\\VMs\\..\\..\\Windows\\System32',
        'C:relative',
        'relative\\path',
      ]) {
        expect(verdicts.find((v) => v.value === climbing)?.verdict, climbing).to.equal('refused');
      }
    });
  });

  describe('NTFS names and item paths against item-level restore', () => {
    let dir: TempDir;
    let disk: VirtualDisk;
    let volume: NtfsVolume;
    let report: ExtractReport;
    let jail: string;
    let out: string;

    before(async () => {
      dir = await tempDir('shadowkeep-hostile-');
      disk = await openVirtualDisk(await hostileNtfsImage(dir));
      ({ volume } = await openVolume(disk));
      jail = dir.file('jail');
      out = join(jail, 'deeper', 'out');
      await mkdir(out, { recursive: true });
      report = await extract(volume, '/', out);
    });
    after(async () => {
      await disk.close();
      await dir.remove();
    });

    /** Every file under `root`, as real paths. */
    async function filesUnder(root: string): Promise<string[]> {
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return Promise.all(entries.filter((e) => e.isFile()).map((e) => realpath(join(e.parentPath, e.name))));
    }

    it('restores every hostile name inside the destination, renamed where it must be, losing none', async () => {
      const onVolume = [
        ...WRITABLE_NAMES,
        ...Object.values(PATCHED_NAMES).filter((n) => n !== '..'),
        'inside.txt',
      ];
      // The destination sits two levels inside a jail: a name climbing out (`../../escape`) would land in it.
      const written = await filesUnder(jail);
      const inside = `${await realpath(out)}/`;
      const outside = written.filter((p) => !p.startsWith(inside));
      const contents = await Promise.all(written.map((p) => readFile(p, 'utf8')));
      const lost = onVolume.filter((name) => !contents.includes(contentOf(name)));
      printFigures('Hostile input: item-level restore of a volume with hostile names', [
        {
          'names on the volume': onVolume.length + 1,
          'files restored': written.length,
          'renamed (with reason)': report.renamed.length,
          'written outside destination': outside.length,
          lost: lost.length,
        },
      ]);
      expect(outside).to.deep.equal([]);
      expect(lost).to.deep.equal([]);
      const renamed = new Map(report.renamed.map((r) => [r.ntfsPath, r.reason]));
      for (const name of Object.values(PATCHED_NAMES)) {
        expect(renamed.get(`/names/${name}`), JSON.stringify(name)).to.be.a('string');
      }
    });

    it('would restore every name on the volume under a name Windows can hold', async () => {
      const names: string[] = [];
      for await (const entry of volume.listDirectory(await volume.resolve('/names'))) {
        names.push(entry.name);
      }
      // Windows's own rules, written out independently of host-names.ts.
      const unsafe = names
        .map((n) => hostName(n, 'win32').name)
        .filter(
          (n) =>
            // eslint-disable-next-line no-control-regex -- control characters are among what Windows refuses
            /[<>:"/\\|?*\u0000-\u001f]/.test(n) ||
            /[. ]$/.test(n) ||
            /^(CON|PRN|AUX|NUL|COM\d|LPT\d)(\..*)?$/i.test(n) ||
            n === '.' ||
            n === '..',
        );
      expect(names).to.have.length(WRITABLE_NAMES.length + Object.keys(PATCHED_NAMES).length);
      expect(unsafe).to.deep.equal([]);
    });

    it('refuses item paths that climb out of the volume, writing nothing', async () => {
      const target = dir.file('single');
      await mkdir(target);
      for (const path of ['/names/../../etc/passwd', '..', '/..', 'names/./CON', '\\names\\..\\..']) {
        const err = await extract(volume, path, target).catch((e: unknown) => e);
        expect(err, path).to.be.instanceOf(FileNotFoundError);
      }
      expect(await readdir(target)).to.deep.equal([]);
    });
  });
});
