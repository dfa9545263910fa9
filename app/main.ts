/** `node --import tsx app/main.ts`: the app as a lab process (configuration from the environment). */
import { main } from './server';

main().catch((e) => {
  console.error(`app: ${(e as Error).message}`);
  process.exit(1);
});
