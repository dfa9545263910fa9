/**
 * The EC2 user data's tls_setup (infra/aws/userdata/common.sh), rendered as CloudFormation renders it
 * and run by bash against a stand-in for the AWS CLI's two Secrets Manager calls (files in a folder):
 * the first primary creates the cluster CA, the others fetch it, each signs its own certificate and
 * keeps no CA key; no secret ever appears on a command line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const { sub } = require('../../../infra/aws/sub') as {
  sub(text: string, vars: Record<string, unknown>): string | { 'Fn::Sub': string | [string, unknown] };
};

/** common.sh's tls_setup as the instance runs it: Fn::Sub's variables filled in, `${!x}` back to `${x}`. */
function renderedTlsSetup(values: Record<string, string>): string {
  const text = readFileSync(join(ROOT, 'infra/aws/userdata/common.sh'), 'utf8');
  const fn = /^tls_setup\(\) \{[\s\S]*?^\}$/m.exec(text)?.[0];
  if (!fn) throw new Error('common.sh has no tls_setup');
  const r = sub(fn, Object.fromEntries(Object.keys(values).map((k) => [k, { Ref: k }])));
  const tpl = typeof r === 'string' ? r : Array.isArray(r['Fn::Sub']) ? r['Fn::Sub'][0] : r['Fn::Sub'];
  return tpl.replace(/\$\{([A-Za-z0-9]+)\}/g, (_, n: string) => values[n] ?? `\${${n}}`).replace(/\$\{!/g, '${');
}

const FAKE_AWS = `#!/usr/bin/env bash
# aws secretsmanager get-secret-value|put-secret-value, over files in $STORE
printf '%s\\n' "$*" >>"$STORE/argv.log"
op=$2 id= src=
while [ $# -gt 0 ]; do
  case $1 in --secret-id) id=$2; shift ;; --secret-string) src=$2; shift ;; esac
  shift
done
case $op in
  get-secret-value) cat "$STORE/$id" ;;
  put-secret-value) cp "\${src#file://}" "$STORE/$id"; echo '{}' ;;
  *) exit 2 ;;
esac
`;

let work: string;
let store: string;
let bin: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'pgw-tls-userdata-'));
  store = join(work, 'store');
  bin = join(work, 'bin');
  mkdirSync(store);
  mkdirSync(bin);
  writeFileSync(join(bin, 'aws'), FAKE_AWS);
  chmodSync(join(bin, 'aws'), 0o755);
  // The secrets as CloudFormation creates them: generated placeholders, no certificate.
  for (const id of ['ca-secret', 'ca-cert-secret']) writeFileSync(join(store, id), '{"placeholder":"a1b2c3d4"}');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function tlsSetup(role: string, sans: string, dir: string, attempts = 3) {
  const script = `${renderedTlsSetup({ TlsCaSecret: 'ca-secret', TlsCaCertSecret: 'ca-cert-secret' })}\ntls_setup "$1" "$2"\n`;
  return spawnSync('bash', ['-euo', 'pipefail', '-c', script, 'tls', role, sans], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      STORE: store,
      PGW_TLS_DIR: dir,
      PGW_NODE_SCRIPTS: join(ROOT, 'infra/node'),
      PGW_TLS_WAIT_ATTEMPTS: String(attempts),
      PGW_TLS_WAIT_S: '0',
      PGW_OS_USER: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
    },
  });
}

const verify = (ca: string, cert: string) =>
  spawnSync('openssl', ['verify', '-CAfile', ca, cert], { encoding: 'utf8' }).stdout.trim();
const sansOf = (cert: string) =>
  execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });

describe('tls_setup in the EC2 user data', () => {
  it('the first primary creates the CA, stores it, and keeps only its own certificate and the CA certificate', () => {
    const dir = join(work, 'pg1');
    const r = tlsSetup('primary', 'IP:10.40.48.10', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const stored = JSON.parse(readFileSync(join(store, 'ca-secret'), 'utf8')) as { cert: string; key: string };
    expect(stored.cert).toContain('BEGIN CERTIFICATE');
    expect(stored.key).toContain('PRIVATE KEY');
    expect(JSON.parse(readFileSync(join(store, 'ca-cert-secret'), 'utf8'))).toEqual({ cert: stored.cert });
    expect(existsSync(join(dir, 'ca.key'))).toBe(false);
    expect(verify(join(dir, 'ca.crt'), join(dir, 'server.crt'))).toMatch(/: OK$/);
    expect(sansOf(join(dir, 'server.crt'))).toContain('IP Address:10.40.48.10');
    expect(readFileSync(join(store, 'argv.log'), 'utf8')).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it('another instance fetches that CA and signs its own certificate with it', () => {
    expect(tlsSetup('primary', 'IP:10.40.48.10', join(work, 'pg1')).status).toBe(0);
    const dir = join(work, 'pgpool1');
    const r = tlsSetup('pgpool', 'IP:10.40.48.20,DNS:pgwarden-nlb.elb.eu-west-1.amazonaws.com', dir);
    expect(r.status).toBe(0);
    expect(verify(join(work, 'pg1', 'ca.crt'), join(dir, 'server.crt'))).toMatch(/: OK$/);
    expect(sansOf(join(dir, 'server.crt'))).toMatch(/DNS:pgwarden-nlb\.elb\.eu-west-1\.amazonaws\.com/);
    expect(existsSync(join(dir, 'ca.key'))).toBe(false);
  });

  it('a non-primary with no CA to fetch fails, naming the secret, and creates none', () => {
    const r = tlsSetup('standby', 'IP:10.40.64.10', join(work, 'pg2'), 2);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no cluster CA in ca-secret after 0 s');
    expect(readFileSync(join(store, 'ca-secret'), 'utf8')).toBe('{"placeholder":"a1b2c3d4"}');
  });
});
