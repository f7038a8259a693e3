import test from 'node:test';
import assert from 'node:assert/strict';
import { levelBody, MAX_LOG_LINES, MAX_RULES, netlogView, parseRules, policyView } from '../../Sources/HearthServer/Web/core/netpolicy.js';
import { seeded } from './seeded.mjs';

test('rules: one per line, comments and blanks dropped, duplicates once, nonsense named', () => {
  const { rules, errors } = parseRules('pypi.org:443\n\n# the mirror\n*.debian.org\ntcp:10.0.0.0/8:5432\nPyPI.org:443\nrm -rf /\n');
  assert.deepEqual(rules, ['pypi.org:443', '*.debian.org', 'tcp:10.0.0.0/8:5432']);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /line 7/);
  assert.deepEqual(parseRules(Array.from({ length: MAX_RULES + 1 }, (_, i) => `h${i}.example`).join('\n')).errors.length, 1);
});

test('the policy and the log are shown from whatever the server says, bounded', () => {
  const view = policyView({ mode: 'deny-all', server: {}, tenant: {}, workspace: { rules: ['pypi.org:443', 5] },
    networks: [{ rule: 'pypi.org:443', because: ['server: pypi.org', 'workspace: pypi.org:443'] }, null, { rule: 7 }] });
  assert.equal(view.mode, 'deny-all');
  assert.deepEqual(view.own, ['pypi.org:443']);
  assert.deepEqual(view.inForce, [{ rule: 'pypi.org:443', because: 'server: pypi.org; workspace: pypi.org:443' }]);
  const entries = Array.from({ length: 300 }, (_, i) => ({ time: `2026-12-01T10:00:${String(i % 60).padStart(2, '0')}Z`, kind: 'dns',
    allowed: i % 2 === 0, destination: `n${i}.example`, rule: 'r' }));
  const log = netlogView({ entries, denied_names: 3, allowed_names: 4, denied_packets: -1 });
  assert.equal(log.lines.length, MAX_LOG_LINES);
  assert.match(log.lines[0].text, /n299\.example/);
  assert.equal(log.summary, '3 names and 0 connections denied, 4 names allowed');
});

test('hostile bodies and text never throw', () => {
  const rand = seeded(11);
  const junk = [null, 5, 'x', [], {}, { entries: 'no' }, { entries: [null, 1, { time: {} }] }, { networks: {} }, { workspace: { rules: {} } }];
  for (const j of junk) { policyView(j); netlogView(j); }
  for (let i = 0; i < 500; i++) {
    const bytes = rand.bytes(rand.int(400));
    parseRules(String.fromCharCode(...bytes));
  }
  parseRules(undefined);
  parseRules('x'.repeat(100000));
});

test('saving rules keeps the workspace own mode: a deny-all workspace is not widened by a save', () => {
  const denyAll = policyView({ mode: 'deny-all', workspace: { mode: 'deny-all', rules: null }, networks: [] });
  assert.deepEqual(levelBody(denyAll, []), { mode: 'deny-all' });
  assert.deepEqual(levelBody(denyAll, ['pypi.org:443']), { mode: 'deny-all', rules: ['pypi.org:443'] });
  const inherits = policyView({ mode: 'open', workspace: {}, networks: [] });
  assert.deepEqual(levelBody(inherits, []), {});
  const ruled = policyView({ mode: 'deny-all', workspace: { rules: ['a.example'] }, networks: [] });
  assert.deepEqual(levelBody(ruled, []), { rules: [] });
});
