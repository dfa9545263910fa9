/**
 * Secrets over Secrets Manager: the admin database credentials, a JSON secret
 * {"username", "password", "dbname"} (dbname defaults to "postgres", as RDS-style secrets may omit it).
 * Cached for the container's lifetime, refreshed after `ttlMs` so a rotated password is picked up.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DbCredentials, Secrets } from '../ports';

export interface SecretsManagerSecretsOptions {
  ttlMs?: number;
  now?: () => number;
}

export class SecretsManagerSecrets implements Secrets {
  private cached?: { at: number; value: Promise<DbCredentials> };
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    opts: SecretsManagerSecretsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  admin(): Promise<DbCredentials> {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.value;
    // Cache the promise, so concurrent callers share one request; forget it if it fails.
    const value = this.fetch();
    const entry = { at: now, value };
    this.cached = entry;
    value.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return value;
  }

  private async fetch(): Promise<DbCredentials> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    if (out.SecretString === undefined) {
      throw new Error(`secret ${this.secretId} has no SecretString (binary secrets are not supported)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      // Never echo the secret's content in an error.
      throw new Error(`secret ${this.secretId} is not JSON {"username","password","dbname"}`);
    }
    const s = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const missing = ['username', 'password'].filter((k) => typeof s[k] !== 'string' || s[k] === '');
    if (missing.length > 0) throw new Error(`secret ${this.secretId} lacks ${missing.join(' and ')}`);
    const dbname = typeof s.dbname === 'string' && s.dbname !== '' ? s.dbname : 'postgres';
    return { user: s.username as string, password: s.password as string, database: dbname };
  }
}
