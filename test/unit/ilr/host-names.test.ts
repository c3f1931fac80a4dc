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

  it('on Windows, renames names that would open a stream, a device or merge with another name', () => {
    const cases: [string, RegExp][] = [
      ['report.docx:Zone.Identifier', /^report\.docx_Zone\.Identifier~[0-9a-f]{8}$/],
      ['CON', /^_CON~[0-9a-f]{8}$/],
      ['nul.txt', /^_nul\.txt~[0-9a-f]{8}$/],
      ['COM1.log', /^_COM1\.log~[0-9a-f]{8}$/],
      ['notes.', /^notes_~[0-9a-f]{8}$/],
      ['notes ', /^notes_~[0-9a-f]{8}$/],
      ['a\\..\\..\\x', /^a_\.\._\.\._x~[0-9a-f]{8}$/],
      ['C:\\Windows', /^C__Windows~[0-9a-f]{8}$/],
      ['what?<>|"*', /^what______~[0-9a-f]{8}$/],
    ];
    for (const [ntfs, expected] of cases) {
      const result = hostName(ntfs, 'win32');
      expect(result.name, ntfs).to.match(expected);
      expect(result.renamed, ntfs).to.be.a('string');
    }
    // Two names Windows would merge stay apart.
    expect(hostName('notes.', 'win32').name).to.not.equal(hostName('notes', 'win32').name);
    // Ordinary names, and the same names on Linux, are kept as they are.
    expect(hostName('console.log', 'win32')).to.deep.equal({ name: 'console.log' });
    expect(hostName('CON', 'linux')).to.deep.equal({ name: 'CON' });
    expect(hostName('a:b', 'linux')).to.deep.equal({ name: 'a:b' });
  });
});
