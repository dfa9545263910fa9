/** `npm run bench -- <name>`: timing goals live here, never in the tests. Each bench prints its figures. */
import { UsageError } from '../infra/local/usage-error';
import { machineLine } from './util';

const BENCHES: Record<string, string> = {
  lab: './lab',
  failover: './failover',
  digest: './digest',
  switchover: './switchover',
  rejoin: './rejoin',
  app: './app',
};

export async function bench(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || !BENCHES[name]) throw new UsageError(`bench needs one of: ${Object.keys(BENCHES).join(', ')}`);
  const mod = require(BENCHES[name]) as { run(a: string[]): Promise<void> };
  // The lab's figures depend on the machine more than on anything else: say which one.
  if (!rest.includes('--help') && !rest.includes('-h')) console.log(machineLine());
  await mod.run(rest);
  return 0;
}
