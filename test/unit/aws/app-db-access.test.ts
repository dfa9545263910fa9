/**
 * The app Lambda's way to PostgreSQL (app/lambda.ts databaseAccess): pgpool's NLB, the app role's
 * password and TLS verified against the cluster CA, all three from Secrets Manager.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readAppConfig } from '../../../app/config';
import { databaseAccess } from '../../../app/lambda';

const smMock = mockClient(SecretsManagerClient);
const APP = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgwarden/app-AbCdEf';
const CA = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pgwarden/ca-cert-AbCdEf';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const AWS_ENV = {
  PGWARDEN_APP_DB_HOST: 'pgpool-nlb.elb.eu-west-1.amazonaws.com',
  PGWARDEN_APP_DB_SECRET_ARN: APP,
  PGWARDEN_APP_DB_CA_SECRET_ARN: CA,
};
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });

beforeEach(() => {
  smMock.reset();
  smMock.on(GetSecretValueCommand, { SecretId: APP }).resolves({
    SecretString: JSON.stringify({ username: 'app', password: 'p@ss/word' }),
  });
  smMock.on(GetSecretValueCommand, { SecretId: CA }).resolves({ SecretString: JSON.stringify({ cert: PEM }) });
});

describe('the app Lambda reaches PostgreSQL over verified TLS', () => {
  it('connects to the NLB with the CA certificate from its secret and the server checked, no sslmode in the URL', async () => {
    const { url, tls } = await databaseAccess(readAppConfig(AWS_ENV), client());
    const u = new URL(url);
    expect(u.hostname).toBe('pgpool-nlb.elb.eu-west-1.amazonaws.com');
    expect(u.port).toBe('9999');
    expect(u.pathname).toBe('/app');
    expect(decodeURIComponent(u.username)).toBe('app');
    expect(decodeURIComponent(u.password)).toBe('p@ss/word');
    // A URL's sslmode would override the ssl object node-postgres is given (and 'require' verifies nothing).
    expect(u.search).toBe('');
    expect(tls).toEqual({ ca: PEM, rejectUnauthorized: true });
  });

  it('is on by default in AWS, and refuses to start without the CA rather than connect unverified', () => {
    expect(readAppConfig(AWS_ENV).dbTls).toBe(true);
    const { PGWARDEN_APP_DB_CA_SECRET_ARN: _ca, ...noCa } = AWS_ENV;
    expect(() => readAppConfig(noCa)).toThrow(
      /PGWARDEN_APP_DB_CA_SECRET_ARN is required when PGWARDEN_APP_DB_TLS is on/,
    );
    // Turned off on purpose (a test stack without TLS), no CA is asked for and none is read.
    expect(readAppConfig({ ...noCa, PGWARDEN_APP_DB_TLS: 'off' }).dbTls).toBe(false);
  });

  it('names the secret that lacks the certificate, and never connects without it', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: CA }).resolves({ SecretString: JSON.stringify({ key: 'x' }) });
    await expect(databaseAccess(readAppConfig(AWS_ENV), client())).rejects.toThrow(`secret ${CA} lacks "cert"`);
  });

  it('with TLS off reads no CA and passes no TLS options', async () => {
    const { url, tls } = await databaseAccess(readAppConfig({ ...AWS_ENV, PGWARDEN_APP_DB_TLS: 'off' }), client());
    expect(tls).toBeUndefined();
    expect(new URL(url).search).toBe('');
    expect(smMock.commandCalls(GetSecretValueCommand, { SecretId: CA })).toHaveLength(0);
  });

  it('the lab (a database URL given whole) reads no secret at all', async () => {
    const url = 'postgresql://app:app@127.0.0.1:19999/app?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem';
    expect(await databaseAccess(readAppConfig({ PGWARDEN_APP_DATABASE_URL: url }), client())).toEqual({ url });
    expect(smMock.calls()).toHaveLength(0);
  });
});
