import test from 'node:test';
import assert from 'node:assert/strict';
import { IDLE_CHOICES, createRequest, idleLabel } from '../../Sources/HearthServer/Web/core/workspace.js';

test('the create request carries a trimmed name and an idle timeout only when set', () => {
  assert.deepEqual(createRequest('', '0'), {});
  assert.deepEqual(createRequest('  demo ', '1800'), { name: 'demo', idle_timeout_s: 1800 });
  assert.deepEqual(createRequest(undefined, 'garbage'), {});
  assert.deepEqual(createRequest('x', '-5'), { name: 'x' });
});

test('idle timeouts read in words, and the offered ones are within the server bounds', () => {
  assert.equal(idleLabel(0), 'never pauses when idle');
  assert.equal(idleLabel(undefined), 'never pauses when idle');
  assert.equal(idleLabel(1800), 'pauses after 30 min idle');
  assert.equal(idleLabel(7200), 'pauses after 2 h idle');
  assert.equal(idleLabel(86400), 'pauses after 1 d idle');
  for (const s of IDLE_CHOICES) assert.ok(s === 0 || (s >= 300 && s <= 604800), s);
});
