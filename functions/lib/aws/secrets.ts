/**
 * Secrets over Secrets Manager: the admin database credentials, a JSON secret
 * {"username", "password", "dbname"} (dbname defaults to "postgres", as RDS-style secrets may omit it),
 * and, when `caSecretId` is set, the cluster CA's certificate ({"cert"}) that connections verify the
 * servers with. Cached for the container's lifetime, refreshed after `ttlMs` so a rotated password is
 * picked up.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DbCredentials, Secrets } from '../ports';

export interface SecretsManagerSecretsOptions {
  ttlMs?: number;
  now?: () => number;
  /** The secret holding the cluster CA certificate, {"cert": "-----BEGIN CERTIFICATE-----..."}. */
  caSecretId?: string;
}

export class SecretsManagerSecrets implements Secrets {
  private cached?: { at: number; value: Promise<DbCredentials> };
  private readonly ttlMs: number;
  private readonly now: () => number;

  private readonly caSecretId?: string;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    opts: SecretsManagerSecretsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.caSecretId = opts.caSecretId;
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
    const [creds, ca] = await Promise.all([this.credentials(), this.caSecretId ? this.ca(this.caSecretId) : undefined]);
    return ca ? { ...creds, ca } : creds;
  }

  private async ca(id: string): Promise<string> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: id }));
    let cert: unknown;
    try {
      cert = (JSON.parse(out.SecretString ?? '') as { cert?: unknown }).cert;
    } catch {
      throw new Error(`secret ${id} is not JSON {"cert"}`);
    }
    if (typeof cert !== 'string' || !cert.includes('BEGIN CERTIFICATE')) {
      // Before pg1's first boot has written it, no connection can be verified: fail, never go plain.
      throw new Error(`secret ${id} holds no CA certificate yet (the first primary's bootstrap writes it)`);
    }
    return cert;
  }

  private async credentials(): Promise<DbCredentials> {
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
