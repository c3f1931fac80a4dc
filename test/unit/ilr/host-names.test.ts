import { expect } from 'chai';
import { hostName } from '../../../controller/ilr/host-names.js';

describe('host names for restored files', () => {
  it('keeps ordinary and Unicode names as they are', () => {
    expect(hostName('report 2026.docx')).to.deep.equal({ name: 'report 2026.docx' });
    expect(hostName('Ünïcødé 名前.txt')).to.deep.equal({ name: 'Ünïcødé 名前.txt' });
  });

  it('renames names that would step out of the output directory', () => {
    for (const bad of ['..', '.', 'a/../../etc', '/etc/passwd']) {
      const result = hostName(bad);
      expect(result.renamed, bad).to.be.a('string');
      expect(result.name, bad).to.not.include('/');
      expect(['.', '..']).to.not.include(result.name);
    }
  });

  it('replaces NUL and unpaired surrogates, and says why', () => {
    const result = hostName('bad\0name\ud800.txt');
    expect(result.name).to.match(/^bad_name\ufffd\.txt~[0-9a-f]{8}$/);
    expect(result.renamed).to.equal('unpaired UTF-16 surrogate, "/" or NUL in the name');
  });

  it('shortens names over 255 UTF-8 bytes without splitting a character, keeping distinct names distinct', () => {
    const a = hostName(`${'名'.repeat(200)}a`);
    const b = hostName(`${'名'.repeat(200)}b`);
    expect(Buffer.byteLength(a.name)).to.be.at.most(255);
    expect(a.name).to.match(/^名+~[0-9a-f]{8}$/);
    expect(a.name).to.not.equal(b.name);
    expect(a.renamed).to.equal('longer than 255 UTF-8 bytes');
  });
});
