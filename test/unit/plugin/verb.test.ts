import { expect } from 'chai';
import { oneName, pluginVerb, type VerbLine } from '../../../controller/plugin/verb.js';
import { stillGoingOn, timeoutOf, waitOptions } from '../../../controller/plugin/wait.js';
import { usageError, usageErrorMessage } from './fixtures.js';

/** The message of the usage error a verb's run ends with. */
const refused = async (run: Promise<number>): Promise<string> =>
  usageErrorMessage(
    await run.then(
      () => 'ran',
      (err: unknown) => err,
    ),
  );

describe('the frame of every kubectl shadowkeep verb', () => {
  const options = { level: { type: 'string' }, ...waitOptions } as const;
  let seen: VerbLine<typeof options>[];
  const verb = (positionals: boolean) =>
    pluginVerb({
      name: 'verify',
      summary: 'a verb',
      usage: 'Usage: kubectl shadowkeep verify <recovery-point>\n',
      options,
      positionals,
      run(line) {
        seen.push(line);
        return Promise.resolve(0);
      },
    });

  beforeEach(() => {
    seen = [];
  });

  it('hands the verb its own flags, the common ones with their defaults, its names and the format', async () => {
    expect(await verb(true).run(['sql01-1', '--level', 'Boot', '-o', 'json'])).to.equal(0);
    const [line] = seen;
    expect(line?.positionals).to.deep.equal(['sql01-1']);
    expect(line?.format).to.equal('json');
    expect(line?.namespace).to.equal('shadowkeep-system');
    expect(line?.values).to.deep.include({ level: 'Boot', timeout: '2h', 'no-wait': false });
  });

  it('refuses an unknown flag, an unknown output format, and a name where the verb takes none, before the verb runs', async () => {
    expect(await refused(verb(true).run(['x', '--levle', 'Boot']))).to.match(/--levle/);
    expect(await refused(verb(true).run(['x', '-o', 'xml']))).to.equal(
      "unknown output format 'xml': use table, json or yaml",
    );
    expect(await refused(verb(false).run(['x']))).to.match(/'x'/);
    expect(seen).to.deep.equal([]);
  });

  it('wants exactly one name, and shows the usage when it gets none or several', () => {
    expect(oneName(['sql01-1'], 'recovery point', 'USAGE')).to.equal('sql01-1');
    expect(usageError(() => oneName([], 'recovery point', 'USAGE'))).to.equal(
      'name one recovery point\nUSAGE',
    );
    expect(usageError(() => oneName(['a', 'b'], 'VM', 'USAGE'))).to.equal('name one VM\nUSAGE');
  });

  it('reads --timeout as a duration and says how to write one otherwise', () => {
    expect(timeoutOf('30m')).to.equal(30 * 60_000);
    expect(usageError(() => timeoutOf('soon'))).to.match(/'soon' is not a duration: .* e\.g\. 30s/);
  });

  it('says the work goes on, and how to follow it, when the wait ends early', () => {
    expect(stillGoingOn('5m', 'the restore goes on', 'kubectl get vmrestore r1')).to.deep.equal({
      onTimeout: 'gave up waiting after 5m; the restore goes on: kubectl get vmrestore r1',
      onInterrupt: 'stopped waiting; the restore goes on: kubectl get vmrestore r1',
    });
  });
});
