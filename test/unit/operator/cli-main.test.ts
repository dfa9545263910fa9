/** bin/pgwarden's entry dispatches the operator commands with their own help, and validates lab drill --seconds. */
import { main } from '../../../infra/local/cli';

let logged: string[];
let errors: string[];
beforeEach(() => {
  logged = [];
  errors = [];
  jest.spyOn(console, 'log').mockImplementation((m: string) => void logged.push(m));
  jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
});
afterEach(() => jest.restoreAllMocks());

test('pgwarden switchover --help prints the switchover usage and exits 0', async () => {
  expect(await main(['switchover', '--help'])).toBe(0);
  expect(logged[0]).toMatch(/^usage: pgwarden switchover \[--to NODE\]/);
});

test('a usage error of an operator command exits 2 with that command help', async () => {
  expect(await main(['rejoin'])).toBe(2);
  expect(errors[0]).toMatch(/^pgwarden rejoin: rejoin needs exactly one node[\s\S]*usage: pgwarden rejoin NODE/);
});

test('the global usage lists every operator command', async () => {
  expect(await main(['--help'])).toBe(0);
  for (const c of [
    'status',
    'history',
    'failover',
    'switchover',
    'rejoin',
    'maintenance',
    'scale out',
    'pause',
    'resume',
  ])
    expect(logged[0]).toContain(`  ${c}`);
});

test.each(['-1', 'ten', '601'])(
  'lab drill failover --seconds %s is a usage error before any lab is touched',
  async (s) => {
    expect(await main(['lab', 'drill', 'failover', `--seconds=${s}`])).toBe(2);
    expect(errors[0]).toMatch(/--seconds must be a number of seconds from 0 to 600/);
  },
);
