import { describe, expect, it } from 'vitest';
import { metricValue } from './prometheus-text.js';

const text = `# HELP db_safeguards_circuit_state Circuit breaker state
# TYPE db_safeguards_circuit_state gauge
db_safeguards_circuit_state{breaker="primary"} 2
db_safeguards_circuit_state{breaker="batch"} 0
db_safeguards_connections_limit 3
db_safeguards_connections_limit_input{input="shared"} 2
db_safeguards_shared_budget_mode{mode="fallback"} 1
`;

describe('metricValue', () => {
  it('reads the series whose labels match, and nothing of a longer name or a comment', () => {
    expect(metricValue(text, 'db_safeguards_circuit_state', { breaker: 'primary' })).toBe(2);
    expect(metricValue(text, 'db_safeguards_circuit_state', { breaker: 'batch' })).toBe(0);
    expect(metricValue(text, 'db_safeguards_connections_limit')).toBe(3);
    expect(metricValue(text, 'db_safeguards_connections_limit_input', { input: 'shared' })).toBe(2);
    expect(metricValue(text, 'db_safeguards_shared_budget_mode', { mode: 'shared' })).toBeUndefined();
    expect(metricValue(text, 'db_safeguards_missing')).toBeUndefined();
  });
});
