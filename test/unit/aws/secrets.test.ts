import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SecretsManagerSecrets } from '../../../functions/lib/aws/secrets';

const smMock = mockClient(SecretsManagerClient);
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgwarden/admin-AbCdEf';

function secrets(now: () => number = Date.now) {
  return new SecretsManagerSecrets(new SecretsManagerClient({ region: 'eu-west-1' }), SECRET, { ttlMs: 60_000, now });
}

beforeEach(() => {
  smMock.reset();
});

describe('SecretsManagerSecrets', () => {
  it('reads the JSON secret and maps it to credentials', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'pgwarden', password: 's3cret', dbname: 'app' }) });

    // Act
    const creds = await secrets().admin();

    // Assess
    expect(smMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET });
    expect(creds).toEqual({ user: 'pgwarden', password: 's3cret', database: 'app' });
  });

  it('defaults the database to postgres', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });

    // Act
    const creds = await secrets().admin();

    // Assess
    expect(creds.database).toBe('postgres');
  });

  it('caches within the TTL, shares a concurrent fetch, and refreshes after it', async () => {
    // Prepare
    let t = 0;
    smMock
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ username: 'u', password: 'old' }) })
      .resolves({ SecretString: JSON.stringify({ username: 'u', password: 'rotated' }) });
    const s = secrets(() => t);

    // Act
    const [a, b] = await Promise.all([s.admin(), s.admin()]);
    t = 59_999;
    const c = await s.admin();
    t = 60_000;
    const d = await s.admin();

    // Assess
    expect([a.password, b.password, c.password, d.password]).toEqual(['old', 'old', 'old', 'rotated']);
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('does not cache a failure', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new ResourceNotFoundException({ $metadata: {}, message: 'not yet' }))
      .resolves({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    const s = secrets();

    // Act
    const first = s.admin();
    await expect(first).rejects.toThrow('not yet');
    const second = await s.admin();

    // Assess
    expect(second.user).toBe('u');
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('names missing fields without echoing the secret', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ password: 'hunter2' }) })
      .resolvesOnce({ SecretString: 'hunter2' })
      .resolvesOnce({ SecretBinary: new Uint8Array([1]) });

    // Act
    const noUser = secrets().admin();
    const notJson = secrets().admin();
    const binary = secrets().admin();

    // Assess
    await expect(noUser).rejects.toThrow(`secret ${SECRET} lacks username`);
    await expect(notJson).rejects.toThrow(/is not JSON/);
    await expect(notJson).rejects.not.toThrow(/hunter2/);
    await expect(binary).rejects.toThrow(/no SecretString/);
  });
});
