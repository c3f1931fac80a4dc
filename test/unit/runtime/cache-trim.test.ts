import { expect } from 'chai';
import type { RecoveryPoint } from '../../../controller/api/index.js';
import { StringTable, trimForCache } from '../../../controller/runtime/cache-trim.js';

/** A completed recovery point as the API server sends it: both writers' field ownership included. */
function completedPoint(
  name: string,
  manifest: string,
): RecoveryPoint & { metadata: { managedFields: unknown[] } } {
  const at = '2026-11-22T05:02:59Z';
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: {
      name,
      namespace: 'prod',
      uid: `uid-${name}`,
      resourceVersion: '4711',
      generation: 1,
      creationTimestamp: at,
      labels: { 'shadowkeep.io/protection': 'nightly', 'shadowkeep.io/node': 'hv-01' },
      annotations: { 'shadowkeep.io/reference-point': '{"rct":"abc"}' },
      finalizers: ['shadowkeep.io/recovery-point-data'],
      managedFields: [
        {
          manager: 'shadowkeep-agent',
          operation: 'Apply',
          subresource: 'status',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:status': { 'f:phase': {}, 'f:disks': { 'k:{"controllerLocation":"SCSI 0:0"}': {} } },
          },
        },
        {
          manager: 'shadowkeep-controller',
          operation: 'Apply',
          subresource: 'status',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:status': { 'f:nodeName': {}, 'f:repository': {} } },
        },
      ],
    },
    spec: {
      protection: 'nightly',
      vm: { name: 'sql-01', id: 'vm-id-1' },
      repository: 'primary',
      requestedMode: 'OnlineOrSavedState',
      scheduledTime: at,
    },
    status: {
      phase: 'Completed',
      nodeName: 'hv-01',
      repository: 'primary',
      consistency: 'ApplicationConsistent',
      pointInTime: at,
      completionTime: at,
      disks: [{ controllerLocation: 'SCSI 0:0', fileName: 'sql-01.vhdx', virtualSize: 1 << 30, manifest }],
      copies: [{ repository: 'offsite', phase: 'Completed' }],
      verification: { level: 'Checksums', result: 'Passed', time: at },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Completed', message: 'backed up', lastTransitionTime: at },
      ],
    },
  };
}

describe('what the informer caches keep of an object', () => {
  it('keeps every field but the server’s field-ownership record', () => {
    const sent = completedPoint('sql-01-20261122-0500', 'aa11');
    const { managedFields, ...metadataWithout } = sent.metadata;
    expect(managedFields).to.have.length(2);
    const expected = structuredClone({ ...sent, metadata: metadataWithout });

    const cached = trimForCache(sent, new StringTable());

    expect(cached).to.deep.equal(expected);
    expect(cached.metadata).not.to.have.property('managedFields');
  });

  it('leaves an object without managedFields as it was', () => {
    const sent = completedPoint('sql-01-20261122-0600', 'bb22');
    delete (sent.metadata as { managedFields?: unknown }).managedFields;
    const expected = structuredClone(sent);
    expect(trimForCache(sent, new StringTable())).to.deep.equal(expected);
  });
});

describe('the shared string table', () => {
  it('answers an equal string with the copy it saw first, and counts each value once', () => {
    const table = new StringTable();
    const first = ['Comp', 'leted'].join('');
    const second = ['Com', 'pleted'].join('');
    expect(table.share(first)).to.equal('Completed');
    expect(table.share(second)).to.equal('Completed');
    table.shareAll(completedPoint('a', 'x1'));
    const afterOne = table.size;
    table.shareAll(completedPoint('a', 'x1'));
    expect(table.size, 'the same object adds nothing new').to.equal(afterOne);
  });

  it('passes long strings through without remembering them', () => {
    const table = new StringTable();
    const message = 'x'.repeat(65);
    expect(table.share(message)).to.equal(message);
    expect(table.size).to.equal(0);
  });

  it('never holds more strings than its capacity, however many unique values pass', () => {
    const table = new StringTable(100);
    for (let i = 0; i < 1000; i++) {
      expect(table.share(`uid-${i}`)).to.equal(`uid-${i}`);
      expect(table.size).to.be.at.most(100);
    }
  });
});
