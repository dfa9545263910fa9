/**
 * Secrets over Secrets Manager: database credentials, each a JSON secret
 * {"username", "password", "dbname"} (dbname defaults to "postgres", as RDS-style secrets may omit it):
 * the automation role's (`secretId`, direct sessions on the nodes) and, when `pgpoolSecretId` is set,
 * the pgpool role's (sessions through a pgpool); and, when `caSecretId` is set, the cluster CA's
 * certificate ({"cert"}) that connections verify the servers with. Each is cached for the container's
 * lifetime, refreshed after `ttlMs` so a rotated password is picked up.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DbCredentials, Secrets } from '../ports';

export interface SecretsManagerSecretsOptions {
  ttlMs?: number;
  now?: () => number;
  /** The secret holding the cluster CA certificate, {"cert": "-----BEGIN CERTIFICATE-----..."}. */
  caSecretId?: string;
  /** The pgpool role's secret: what sessions through a pgpool log in as (PGWARDEN_PGPOOL_SECRET_ARN). */
  pgpoolSecretId?: string;
}

export class SecretsManagerSecrets implements Secrets {
  private readonly cached = new Map<string, { at: number; value: Promise<DbCredentials> }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  private readonly caSecretId?: string;
  private readonly pgpoolSecretId?: string;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    opts: SecretsManagerSecretsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.caSecretId = opts.caSecretId;
    this.pgpoolSecretId = opts.pgpoolSecretId;
  }

  admin(): Promise<DbCredentials> {
    return this.cachedFetch(this.secretId);
  }

  pgpool(): Promise<DbCredentials> {
    if (!this.pgpoolSecretId) {
      return Promise.reject(new Error('no pgpool secret configured (PGWARDEN_PGPOOL_SECRET_ARN is not set)'));
    }
    return this.cachedFetch(this.pgpoolSecretId);
  }

  private cachedFetch(id: string): Promise<DbCredentials> {
    const now = this.now();
    const hit = this.cached.get(id);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    // Cache the promise, so concurrent callers share one request; forget it if it fails.
    const value = this.fetch(id);
    const entry = { at: now, value };
    this.cached.set(id, entry);
    value.catch(() => {
      if (this.cached.get(id) === entry) this.cached.delete(id);
    });
    return value;
  }

  private async fetch(id: string): Promise<DbCredentials> {
    const [creds, ca] = await Promise.all([
      this.credentials(id),
      this.caSecretId ? this.ca(this.caSecretId) : undefined,
    ]);
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

  private async credentials(id: string): Promise<DbCredentials> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: id }));
    if (out.SecretString === undefined) {
      throw new Error(`secret ${id} has no SecretString (binary secrets are not supported)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      // Never echo the secret's content in an error.
      throw new Error(`secret ${id} is not JSON {"username","password","dbname"}`);
    }
    const s = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const missing = ['username', 'password'].filter((k) => typeof s[k] !== 'string' || s[k] === '');
    if (missing.length > 0) throw new Error(`secret ${id} lacks ${missing.join(' and ')}`);
    const dbname = typeof s.dbname === 'string' && s.dbname !== '' ? s.dbname : 'postgres';
    return { user: s.username as string, password: s.password as string, database: dbname };
  }
}
