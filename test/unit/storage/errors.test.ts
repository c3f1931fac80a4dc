import { expect } from 'chai';
import { IntegrityError, RepositoryError, WrongKeyError } from '../../../controller/repository/errors.js';
import { ObjectLockedError, StorageError, StorageFullError } from '../../../controller/storage/storage.js';

describe('storage and repository errors', () => {
  it('say which kind they are in messages and logs, and still belong to their family', () => {
    const locked = new ObjectLockedError('s3://vault', 'packs/ab', new Date('2027-01-01T00:00:00Z'));
    expect(String(locked)).to.equal(
      'ObjectLockedError: s3://vault: object packs/ab is locked until 2027-01-01T00:00:00.000Z and cannot be deleted before then',
    );
    expect(locked).to.be.instanceOf(StorageError);
    expect(new StorageFullError('no space').name).to.equal('StorageFullError');
    expect(new StorageError('x').name).to.equal('StorageError');
    const wrongKey = new WrongKeyError('the key file does not unlock s3://vault');
    expect(String(wrongKey)).to.equal('WrongKeyError: the key file does not unlock s3://vault');
    expect(wrongKey).to.be.instanceOf(RepositoryError);
    expect(new IntegrityError('damaged').name).to.equal('IntegrityError');
  });
});
