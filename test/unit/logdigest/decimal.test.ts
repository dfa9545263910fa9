/** Numbers read in place from log lines, against Number(). */
import { decimalAt } from '../../../functions/logdigest/decimal';

describe('decimalAt', () => {
  it('reads what Number() reads', () => {
    const texts = [
      '0',
      '7',
      '0.404',
      '12345.678',
      '007.50',
      '1.',
      '.5',
      '',
      '.',
      '1.2.3',
      ' 1',
      '-1',
      '+2',
      '1e3',
      '0x10',
      'NaN',
      '123456789012345',
      '1234567890123456',
      '9007199254740993',
      '0.1234567890123456789',
      '99999.999',
    ];
    for (let i = 0; i < 2000; i++) texts.push(((i * 7919) % 100003) / 1000 + '', String(i * 1.1), (i / 3).toFixed(3));
    const wrong = texts.filter((t) => !Object.is(decimalAt(`duration: ${t} ms`, 10, 10 + t.length), Number(t)));
    expect(wrong).toEqual([]);
  });
});
