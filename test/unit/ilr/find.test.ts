import { expect } from 'chai';
import type { Catalog } from '../../../controller/ilr/catalog.js';
import { findVersions, globMatcher } from '../../../controller/ilr/find.js';

const catalog = (entries: [string, number][]): Catalog => ({
  version: 1,
  partition: 2,
  chunkSize: 1048576,
  unreadableRecords: 0,
  entries: entries.map(([path, size]) => ({
    path,
    isDirectory: false,
    size,
    modified: Date.UTC(2026, 10, 1),
    chunks: [],
  })),
});

describe('files find', () => {
  it('matches names anywhere when the pattern has no slash, case-insensitively', () => {
    const match = globMatcher('REPORT*.docx');
    expect(match('/Users/ann/Documents/report-q3.docx')).to.be.true;
    expect(match('/report.docx')).to.be.true;
    expect(match('/Users/ann/old-report.docx')).to.be.false;
    expect(match('/Users/report/notes.txt')).to.be.false;
  });

  it('matches whole paths with ** crossing directories and * staying inside one', () => {
    expect(globMatcher('/Users/**/*.pst')('/Users/ann/AppData/Outlook/ann.pst')).to.be.true;
    expect(globMatcher('/Users/**/*.pst')('/Users/ann.pst')).to.be.true;
    expect(globMatcher('/Users/*.pst')('/Users/ann/ann.pst')).to.be.false;
    expect(globMatcher('Users\\*\\notes.txt')('/Users/bob/notes.txt')).to.be.true;
    expect(globMatcher('file-0000?.txt')('/many/file-00007.txt')).to.be.true;
  });

  it('treats regular-expression characters in names literally', () => {
    expect(globMatcher('a+b (1).txt')('/x/a+b (1).txt')).to.be.true;
    expect(globMatcher('a+b (1).txt')('/x/aab (1).txt')).to.be.false;
  });

  it('lists every version of a file across recovery points, newest first', () => {
    const found = findVersions(
      [
        {
          manifestId: 'm1',
          createdAt: '2026-11-01T00:00:00Z',
          diskName: 'sql01/disk0',
          catalog: catalog([['/data/db.mdf', 100]]),
        },
        {
          manifestId: 'm3',
          createdAt: '2026-11-03T00:00:00Z',
          diskName: 'sql01/disk0',
          catalog: catalog([
            ['/data/db.mdf', 300],
            ['/data/log.ldf', 5],
          ]),
        },
        {
          manifestId: 'm2',
          createdAt: '2026-11-02T00:00:00Z',
          diskName: 'sql01/disk0',
          catalog: catalog([['/tmp/other', 1]]),
        },
      ],
      '*.mdf',
    );
    expect([...found.keys()]).to.deep.equal(['/data/db.mdf']);
    expect(found.get('/data/db.mdf')?.map((v) => [v.manifestId, v.size])).to.deep.equal([
      ['m3', 300],
      ['m1', 100],
    ]);
  });
});
