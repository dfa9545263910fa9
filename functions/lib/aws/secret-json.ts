/**
 * A JSON secret from Secrets Manager, by ARN, fetched once and kept for the container's lifetime
 * (the app's database password and the Redis AUTH token). Errors name the secret, never its content.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export async function readSecretJson(client: SecretsManagerClient, secretId: string): Promise<Record<string, unknown>> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (out.SecretString === undefined) throw new Error(`secret ${secretId} has no SecretString`);
  try {
    const v = JSON.parse(out.SecretString) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new Error(`secret ${secretId} is not a JSON object`);
}

/** One string field of a JSON secret. */
export async function readSecretField(client: SecretsManagerClient, secretId: string, field: string): Promise<string> {
  const v = (await readSecretJson(client, secretId))[field];
  if (typeof v !== 'string' || v === '') throw new Error(`secret ${secretId} lacks "${field}"`);
  return v;
}
