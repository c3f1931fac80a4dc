import { expect } from 'chai';
import { parseStorageUrl } from '../../../controller/storage/open.js';
import { accountNameOf } from '../../../controller/storage/location.js';
import { StorageError } from '../../../controller/storage/storage.js';

const KEY = 'c2VjcmV0LWFjY291bnQta2V5';

function refusal(url: string, env: Record<string, string> = {}): string {
  try {
    parseStorageUrl(url, env);
  } catch (err) {
    expect(err).to.be.instanceOf(StorageError);
    return (err as Error).message;
  }
  throw new Error(`${url} was accepted`);
}

describe('repository URLs', () => {
  it('reads an s3:// URL: bucket, prefix, endpoint, region, path style, lock, credentials from the environment', () => {
    const url =
      's3://backups/site-a/prod?endpoint=http://127.0.0.1:9000&region=eu-central-1&pathStyle=true&objectLock=true';
    expect(
      parseStorageUrl(url, {
        AWS_ACCESS_KEY_ID: 'AKID',
        AWS_SECRET_ACCESS_KEY: 'SECRET',
        AWS_SESSION_TOKEN: 'TOKEN',
      }),
    ).to.deep.equal({
      type: 's3',
      url,
      bucket: 'backups',
      prefix: 'site-a/prod',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-central-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' },
      objectLock: true,
    });
  });

  it('leaves S3 credentials to the SDK chain when the environment has none, and defaults the region', () => {
    const location = parseStorageUrl('s3://backups', { AWS_REGION: 'us-west-2' });
    expect(location).to.include({
      type: 's3',
      prefix: '',
      region: 'us-west-2',
      forcePathStyle: false,
      objectLock: false,
    });
    expect(location.type === 's3' && location.credentials).to.equal(undefined);
    expect(parseStorageUrl('s3://backups', {})).to.include({ region: 'us-east-1' });
  });

  it('reads an azblob:// URL with an account name and a key from the environment', () => {
    const location = parseStorageUrl('azblob://vmbackups/offsite?account=contoso&immutability=true', {
      AZURE_STORAGE_ACCOUNT_KEY: KEY,
    });
    expect(location).to.deep.equal({
      type: 'azureBlob',
      url: 'azblob://vmbackups/offsite?account=contoso&immutability=true',
      accountUrl: 'https://contoso.blob.core.windows.net',
      container: 'vmbackups',
      prefix: 'offsite',
      credential: { kind: 'sharedKey', accountName: 'contoso', accountKey: KEY },
      immutability: true,
    });
  });

  it('takes the Azure account and endpoint from a connection string, or a SAS token', () => {
    const connection = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`;
    expect(
      parseStorageUrl('azblob://vmbackups', { AZURE_STORAGE_CONNECTION_STRING: connection }),
    ).to.deep.include({
      accountUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      credential: { kind: 'sharedKey', accountName: 'devstoreaccount1', accountKey: KEY },
    });
    expect(
      parseStorageUrl('azblob://vmbackups?accountUrl=https://contoso.blob.core.windows.net', {
        AZURE_STORAGE_SAS_TOKEN: '?sv=2024&sig=abc',
      }),
    ).to.deep.include({ credential: { kind: 'sas', token: 'sv=2024&sig=abc' } });
  });

  it('names the Azure account of an emulator from the first path segment', () => {
    expect(accountNameOf('http://127.0.0.1:10000/devstoreaccount1')).to.equal('devstoreaccount1');
    expect(accountNameOf('https://contoso.blob.core.windows.net')).to.equal('contoso');
  });

  it('refuses URLs it cannot use, saying what to change', () => {
    expect(refusal('s3://backups?secret=x')).to.match(/unknown parameter 'secret'.*never the URL/);
    expect(refusal('s3://Backups_1')).to.match(/not a valid S3 bucket name/);
    expect(refusal('s3://backups/a/b%20c')).to.match(/prefix '\/a\/b c' may contain only/);
    expect(refusal('s3://backups?pathStyle=yes')).to.match(/pathStyle must be true or false/);
    expect(refusal('s3://backups?endpoint=ftp://x')).to.match(/endpoint must be an http/);
    expect(refusal('s3://backups?endpoint=http://user:pw@host')).to.match(/without a query or user name/);
    expect(refusal('azblob://vmbackups')).to.match(/say which storage account/);
    expect(refusal('azblob://vmbackups?account=contoso')).to.match(
      /no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING/,
    );
    expect(
      refusal('azblob://vmbackups?accountUrl=https://contoso.blob.core.windows.net?sv=1', {
        AZURE_STORAGE_SAS_TOKEN: 'x',
      }),
    ).to.match(/without a query/);
    expect(refusal('gs://bucket')).to.match(/unsupported repository URL.*\n.*s3:\/\//s);
  });

  it('keeps plain paths and file:// URLs on the filesystem', () => {
    expect(parseStorageUrl('/srv/backups', {})).to.deep.equal({
      type: 'filesystem',
      url: 'file:///srv/backups',
      root: '/srv/backups',
    });
    expect(parseStorageUrl('file:///srv/backups', {})).to.include({
      type: 'filesystem',
      root: '/srv/backups',
    });
  });
});
