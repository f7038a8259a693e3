import test from 'node:test';
import assert from 'node:assert/strict';
import { age, asText, diffLines, durability, generationRows, size } from '../../Sources/HearthServer/Web/core/history.js';

test('sizes and ages read as people say them', () => {
  assert.equal(size(0), '0 B');
  assert.equal(size(1536), '1.5 KiB');
  assert.equal(size(5 * 1024 ** 3), '5.0 GiB');
  const now = Date.parse('2026-12-01T12:00:00Z');
  assert.equal(age('2026-12-01T11:59:58Z', now), 'just now');
  assert.equal(age('2026-12-01T11:59:30Z', now), '30 s ago');
  assert.equal(age('2026-12-01T11:30:00Z', now), '30 min ago');
  assert.equal(age('2026-11-28T12:00:00Z', now), '3 d ago');
  assert.equal(age('2026-12-01T12:05:00Z', now), 'just now', 'a skewed clock is not negative');
  assert.equal(age('garbage', now), 'unknown');
});

test('the durability line names the generation and its age, or says nothing is committed', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  assert.equal(durability({ durable_generation: 4, durable_at: '2026-12-01T11:59:00Z' }, now), 'Saved 60 s ago (generation 4).');
  assert.equal(durability({}, now), 'Not committed to the store yet.');
});

test('generations are listed newest first, each with the one before it for its diff', () => {
  const rows = generationRows({ generations: [
    { generation: 1, trigger: 'sync', bytes_added: 10, bytes: 10, files: 1, created_at: 'a' },
    { generation: 2, trigger: 'interval', bytes_added: 2048, bytes: 2058, files: 2, created_at: 'b' },
    { generation: 'x' },
  ] });
  assert.deepEqual(rows.map((r) => [r.generation, r.previous]), [[2, 1], [1, null]]);
  assert.equal(rows[0].label, '#2 · interval · 2.0 KiB added');
  assert.deepEqual(generationRows({}), []);
  assert.equal(generationRows({ generations: Array.from({ length: 500 }, (_, i) => ({ generation: i + 1 })) }, 200).length, 200);
});

test('a diff becomes lines; only files still there can be opened; truncation is said', () => {
  const lines = diffLines({ changes: [
    { kind: 'added', path: 'workspace/a.txt' }, { kind: 'removed', path: 'etc/motd' }, { kind: 'added', path: 'opt/' },
    { kind: 'modified', path: 'workspace/b' }, { kind: 'added' },
  ], truncated: true });
  assert.deepEqual(lines.map((l) => l.text), ['+ workspace/a.txt', '− etc/motd', '+ opt/', '~ workspace/b', '… more changes than one answer lists']);
  assert.deepEqual(lines.map((l) => l.openable), [true, false, false, true, false]);
});

test('bytes are shown as text only when they are text, and only so much of them', () => {
  assert.equal(asText(new TextEncoder().encode('héllo\n')), 'héllo\n');
  assert.equal(asText(new Uint8Array([104, 0, 105])), null);
  assert.equal(asText(new Uint8Array([0xff, 0xfe, 0x41])), null);
  const long = asText(new TextEncoder().encode('a'.repeat(300 * 1024)));
  assert.ok(long.startsWith('aaa') && long.endsWith('more)') && long.length < 270 * 1024);
  // A cut through a two-byte character at the limit is still text.
  const cut = asText(new TextEncoder().encode('é'.repeat(10)), 5);
  assert.ok(cut && cut.startsWith('é'));
});
