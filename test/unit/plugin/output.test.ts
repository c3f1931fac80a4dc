import { expect } from 'chai';
import { load } from 'js-yaml';
import { UserError } from '../../../controller/cli/command.js';
import {
  ageOf,
  colourWanted,
  outputFormat,
  renderStructured,
  renderTable,
  shortTime,
} from '../../../controller/plugin/output.js';

describe('kubectl shadowkeep output', () => {
  it('aligns table columns three spaces apart, as kubectl does', () => {
    expect(
      renderTable(
        ['NAME', 'AGE'],
        [
          ['sql01', '5m'],
          ['a-much-longer-name', '2d'],
        ],
      ),
    ).to.equal('NAME                 AGE\nsql01                5m\na-much-longer-name   2d\n');
  });

  it('colours only on a terminal, and never with NO_COLOR', () => {
    expect(colourWanted({ isTTY: true }, {})).to.be.true;
    expect(colourWanted({ isTTY: false }, {})).to.be.false;
    expect(colourWanted({}, {})).to.be.false;
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).to.be.false;
  });

  it('prints JSON and YAML that read back as the same value', () => {
    const value = { vms: [{ vm: 'sql01', protectedBy: ['sql-tier'] }] };
    expect(JSON.parse(renderStructured(value, 'json'))).to.deep.equal(value);
    expect(load(renderStructured(value, 'yaml'))).to.deep.equal(value);
  });

  it('accepts table, json and yaml and refuses anything else as a usage error', () => {
    expect(outputFormat('yaml')).to.equal('yaml');
    expect(() => outputFormat('wide')).to.throw(UserError, /use table, json or yaml/);
  });

  it('writes ages and times the way people read them', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    expect(ageOf('2026-11-22T08:30:00Z', now)).to.equal('3h30m');
    expect(ageOf(undefined, now)).to.equal('-');
    expect(shortTime('2026-11-22T08:30:05Z')).to.equal('2026-11-22 08:30:05');
  });
});
