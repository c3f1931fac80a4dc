import { expect } from 'chai';
import { isNetworkError, redact } from '../../../controller/storage/object-store.js';

describe('object store messages and failures', () => {
  it('blanks credentials that a server or SDK message quotes', () => {
    const message =
      'GET https://acct.blob.core.windows.net/c/x?sv=2024-01-01&sig=abc%2Fdef&se=2027 failed; AccountKey=c2VjcmV0; X-Amz-Signature=0123abcd&X-Amz-Credential=AKID/2026';
    const clean = redact(message);
    expect(clean).to.not.match(/abc%2Fdef|c2VjcmV0|0123abcd|AKID/);
    expect(clean).to.include('sig=REDACTED').and.include('AccountKey=REDACTED').and.include('sv=2024-01-01');
    expect(redact(undefined)).to.equal('');
  });

  it('tells a broken connection from a server answer, also when it is wrapped', () => {
    expect(isNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).to.be.true;
    expect(
      isNetworkError(new Error('outer', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })),
    ).to.be.true;
    expect(isNetworkError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).to.be.true;
    expect(isNetworkError(Object.assign(new Error('denied'), { name: 'AccessDenied' }))).to.be.false;
    expect(isNetworkError('ECONNRESET')).to.be.false;
  });
});
