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

describe('SecretsManagerSecrets with the cluster CA', () => {
  const CA = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgwarden/main/tls/ca-cert-XyZ';
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const withCa = () =>
    new SecretsManagerSecrets(new SecretsManagerClient({ region: 'eu-west-1' }), SECRET, { caSecretId: CA });

  it('adds the CA certificate to the credentials, so that connections verify the servers', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand, { SecretId: SECRET })
      .resolves({ SecretString: JSON.stringify({ username: 'pgwarden', password: 's3cret' }) })
      .on(GetSecretValueCommand, { SecretId: CA })
      .resolves({ SecretString: JSON.stringify({ cert: PEM }) });

    // Act
    const creds = await withCa().admin();

    // Assess
    expect(creds).toEqual({ user: 'pgwarden', password: 's3cret', database: 'postgres', ca: PEM });
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('fails, rather than connecting unverified, while the CA secret holds no certificate', async () => {
    // Prepare: the secret as CloudFormation creates it, before pg1's bootstrap writes the CA.
    smMock
      .on(GetSecretValueCommand, { SecretId: SECRET })
      .resolves({ SecretString: JSON.stringify({ username: 'pgwarden', password: 's3cret' }) })
      .on(GetSecretValueCommand, { SecretId: CA })
      .resolves({ SecretString: JSON.stringify({ placeholder: 'x1y2z3w4' }) });

    // Act / Assess
    await expect(withCa().admin()).rejects.toThrow(`secret ${CA} holds no CA certificate yet`);
  });
});

describe("SecretsManagerSecrets: the pgpool role's credentials (sessions through a pgpool)", () => {
  const POOL = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgwarden/main/db/pgpool-QwE';

  it('reads the pgpool secret, cached apart from the automation role', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand, { SecretId: SECRET })
      .resolves({ SecretString: JSON.stringify({ username: 'pgwarden', password: 'admin-pw' }) })
      .on(GetSecretValueCommand, { SecretId: POOL })
      .resolves({ SecretString: JSON.stringify({ username: 'pgpool', password: 'pool-pw' }) });
    const s = new SecretsManagerSecrets(new SecretsManagerClient({ region: 'eu-west-1' }), SECRET, {
      pgpoolSecretId: POOL,
    });

    // Act
    const [pool, admin, again] = [await s.pgpool(), await s.admin(), await s.pgpool()];

    // Assess
    expect(pool).toEqual({ user: 'pgpool', password: 'pool-pw', database: 'postgres' });
    expect(admin.user).toBe('pgwarden');
    expect(again).toBe(pool);
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('refuses clearly, without a request, when no pgpool secret is configured', async () => {
    // Act / Assess
    await expect(secrets().pgpool()).rejects.toThrow('PGWARDEN_PGPOOL_SECRET_ARN is not set');
    expect(smMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
  });
});
