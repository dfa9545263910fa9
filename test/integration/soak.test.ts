/**
 * The soak, CI-sized (issue 13): a fixed seed of four faults (the primary partitioned from everything,
 * a pgpool SIGKILLed, the primary SIGKILLed while a rejoin starts, a standby SIGKILLed) under write
 * load through both pgpools. `npm run soak -- --faults 50` is the long run.
 */
import { renderSoak, schedule, soak } from '../../infra/local/soak';
import { freshLab } from './support/lab';

jest.setTimeout(900_000);

const SEED = 15;

test('the seed replays the same schedule', () => {
  expect(schedule(SEED, 4).map((f) => f.kind)).toEqual([
    'partition-primary',
    'kill-pgpool',
    'rejoin-mid-fault',
    'kill-standby',
  ]);
  expect(schedule(SEED, 4)).toEqual(schedule(SEED, 4));
  expect(() => schedule(SEED, 0)).toThrow('--faults must be 1..1000');
});

test(`soak, seed ${SEED}, 4 faults: never two writable primaries, no acknowledged write lost, whole again after every fault`, async () => {
  const lab = freshLab(25160, { pgpools: 2 });
  await lab.up();
  try {
    const r = await soak(lab, { seed: SEED, faults: 4 });
    console.log(renderSoak(r));
    expect(r.violations).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.acknowledged).toBeGreaterThan(100);
    expect(r.results.map((x) => x.recovered)).toEqual([true, true, true, true]);
    // each fault reports its own longest write gap (from the fault's start until whole again)
    for (const x of r.results) expect(x.longestWriteGapMs).toEqual(expect.any(Number));
    expect(r.unfinishedExecutions).toEqual([]);
    expect(r.ok).toBe(true);
  } finally {
    await lab.down({ purge: true });
  }
});
