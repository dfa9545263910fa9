import { EXECUTION_NAME_MAX, executionName, isValidExecutionName } from '../../functions/lib/execution-name';

describe('executionName', () => {
  it('joins clean parts with dashes and leaves them unchanged', () => {
    // Prepare
    const parts = ['failover', 'prod', 'tl3'];

    // Act
    const name = executionName(parts);

    // Assess
    expect(name).toBe('failover-prod-tl3');
  });

  it('is deterministic, so two triggers for the same failure get the same name', () => {
    // Prepare
    const parts = ['failover', 'prod.eu-west-1', 'tl7'];

    // Act
    const first = executionName(parts);
    const second = executionName([...parts]);

    // Assess
    expect(first).toBe(second);
    expect(isValidExecutionName(first)).toBe(true);
  });

  it('replaces invalid characters and appends a hash so distinct inputs stay distinct', () => {
    // Prepare
    const dotted = ['failover', 'prod.1', 'tl2'];
    const dashed = ['failover', 'prod-1', 'tl2'];

    // Act
    const a = executionName(dotted);
    const b = executionName(dashed);

    // Assess
    expect(a).toMatch(/^failover-prod-1-tl2-[0-9a-f]{12}$/);
    expect(b).toBe('failover-prod-1-tl2');
    expect(a).not.toBe(b);
  });

  it('truncates long names to 80 characters with a hash suffix', () => {
    // Prepare
    const long = 'x'.repeat(200);

    // Act
    const a = executionName(['failover', long, 'tl1']);
    const b = executionName(['failover', long, 'tl2']);

    // Assess
    expect(a).toHaveLength(EXECUTION_NAME_MAX);
    expect(b).toHaveLength(EXECUTION_NAME_MAX);
    expect(isValidExecutionName(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(a.slice(0, 60)).toBe(b.slice(0, 60));
  });

  it('keeps a name of exactly 80 valid characters as is', () => {
    // Prepare
    const exact = 'a'.repeat(EXECUTION_NAME_MAX);

    // Act
    const name = executionName([exact]);

    // Assess
    expect(name).toBe(exact);
  });

  it('rejects an empty name', () => {
    // Prepare / Act / Assess
    expect(() => executionName([])).toThrow(/at least one/);
    expect(() => executionName([''])).toThrow(/at least one/);
  });

  it('validates names', () => {
    // Prepare / Act / Assess
    expect(isValidExecutionName('failover-prod_1')).toBe(true);
    expect(isValidExecutionName('')).toBe(false);
    expect(isValidExecutionName('a b')).toBe(false);
    expect(isValidExecutionName('a'.repeat(81))).toBe(false);
  });
});
