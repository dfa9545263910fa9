/** The write gap of a drill or a soak fault, from the acknowledged writes of its load. */
import { gaps } from '../../../infra/local/drill';

const ack = (at: number, start = at - 5) => ({ start, at });

describe('gaps', () => {
  test('the longest pause between two acknowledged writes around the fault', () => {
    const acked = [ack(900), ack(1000), ack(1100), ack(2600), ack(2700)];
    expect(gaps(acked, 1050, 3000)).toEqual({ longest: 1500, firstAfter: 1100 - 1050 });
  });

  test('with nothing acknowledged before the fault, the gap runs from the fault itself', () => {
    // A load whose writers were still connecting when the fault began.
    const acked = [ack(3000), ack(3100), ack(3150)];
    expect(gaps(acked, 1000, 4000).longest).toBe(2000);
  });

  test('writes long before the fault (over 2 s) do not count, the last of them starts the gap', () => {
    const acked = [ack(0), ack(10_000), ack(10_100)];
    expect(gaps(acked, 9000, 11_000).longest).toBe(10_000);
    expect(gaps([ack(0), ack(100), ack(9500), ack(9600)], 9000, 11_000).longest).toBe(9400);
  });

  test('writes after the window do not count', () => {
    expect(gaps([ack(1000), ack(1100), ack(5000)], 1050, 2000).longest).toBe(100);
  });
});
