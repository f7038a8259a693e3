import test from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, MAX_ITEMS, MAX_TEXT, MAX_TOTAL_TEXT, newTranscript, statusLine, takeDirty } from '../../Sources/HearthServer/Web/core/agentevents.js';
import { seeded } from './seeded.mjs';

const ev = (seq, type, data) => ({ seq, type, data: JSON.stringify(data) });

test('a turn: user message, streamed assistant text, a tool call and its result, the outcome', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'status', { status: 'created', model: 'smol' }));
  applyEvent(t, ev(2, 'message', { role: 'user', text: 'list files' }));
  applyEvent(t, ev(3, 'agent_busy', {}));
  assert.equal(t.busy, true);
  applyEvent(t, ev(4, 'message', { role: 'assistant', text: 'Let me ', partial: true }));
  applyEvent(t, ev(5, 'message', { role: 'assistant', text: 'look.', partial: false }));
  applyEvent(t, ev(6, 'tool_call', { id: 'c1', name: 'bash', arguments: '{"command":"ls"}' }));
  applyEvent(t, ev(7, 'tool_result', { id: 'c1', name: 'bash', content: 'a\nb\n', is_error: false, truncated: false, exit_code: 0, duration_ms: 12 }));
  applyEvent(t, ev(8, 'usage', { input_tokens: 10, output_tokens: 5, total_input_tokens: 100, total_output_tokens: 50 }));
  applyEvent(t, ev(9, 'status', { status: 'finished', outcome: 'completed', steps: 2 }));
  applyEvent(t, ev(10, 'agent_idle', { outcome: 'completed' }));
  assert.deepEqual(t.items.map((i) => i.kind), ['status', 'user', 'assistant', 'tool', 'status']);
  assert.equal(t.items[2].text, 'Let me look.');
  assert.equal(t.items[2].partial, false);
  assert.equal(t.items[3].result.content, 'a\nb\n');
  assert.equal(t.items[3].result.exitCode, 0);
  assert.equal(t.busy, false);
  assert.equal(t.outcome, 'completed');
  assert.equal(statusLine(t), 'Idle (last turn completed) · 150 tokens');
});

test('a resumed stream that repeats events changes nothing', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'message', { role: 'assistant', text: 'one ', partial: true }));
  applyEvent(t, ev(2, 'message', { role: 'assistant', text: 'two', partial: true }));
  const before = JSON.stringify(t.items);
  assert.equal(applyEvent(t, ev(1, 'message', { role: 'assistant', text: 'one ', partial: true })), false);
  assert.equal(applyEvent(t, ev(2, 'message', { role: 'assistant', text: 'two', partial: true })), false);
  assert.equal(JSON.stringify(t.items), before);
  assert.equal(t.items[0].text, 'one two');
});

test('an interrupted stream of text is closed by the next tool call or the end of the turn', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'message', { role: 'assistant', text: 'partial', partial: true }));
  applyEvent(t, ev(2, 'agent_idle', { outcome: 'interrupted' }));
  assert.equal(t.items[0].partial, false);
  applyEvent(t, ev(3, 'message', { role: 'assistant', text: 'new block', partial: false }));
  assert.equal(t.items.length, 2);
});

test('hostile events neither throw nor grow the view without bound', () => {
  const rand = seeded(7);
  const t = newTranscript();
  const junk = ['', 'null', '[]', '{"role":"assistant","text":5}', '{"text":{"a":1}}', 'not json', '{"exit_code":1e309}',
    '{"id":{"toString":1}}', '{"total_input_tokens":-5,"total_output_tokens":1e400}', '{"outcome":7}'];
  for (let i = 1; i <= 5000; i++) {
    const type = ['message', 'tool_call', 'tool_result', 'thinking', 'status', 'agent_idle', 'usage', 'scrub', 'exit', 'nope'][rand.int(10)];
    applyEvent(t, { seq: i, type, data: junk[rand.int(junk.length)] });
  }
  assert.ok(t.items.length <= MAX_ITEMS);
  assert.ok(Number.isSafeInteger(t.tokens.input) && Number.isSafeInteger(t.tokens.output));
  for (const seq of ['x', -1, 1.5, Number.MAX_SAFE_INTEGER + 2, null]) assert.equal(applyEvent(t, { seq, type: 'message', data: '{}' }), false);
});

test('a huge text is shown clipped, and a long session keeps its newest items', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'tool_call', { id: 'c', name: 'bash', arguments: 'x'.repeat(MAX_TEXT * 3) }));
  assert.ok(t.items[0].arguments.length < MAX_TEXT + 100);
  for (let i = 0; i < 200; i++) applyEvent(t, ev(2 + i, 'message', { role: 'assistant', text: 'y'.repeat(1024), partial: true }));
  assert.ok(t.items[1].text.length < MAX_TEXT + 100);
  for (let i = 0; i < MAX_ITEMS + 10; i++) applyEvent(t, ev(1000 + i, 'message', { role: 'user', text: `m${i}` }));
  assert.equal(t.items.length, MAX_ITEMS);
  assert.equal(t.items[t.items.length - 1].text, `m${MAX_ITEMS + 9}`);
  assert.ok(t.dropped > 0);
});

test('the view redraws only what changed: the streaming tail, a tool that got its result, or all after a drop', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'message', { role: 'user', text: 'hi' }));
  applyEvent(t, ev(2, 'tool_call', { id: 'a', name: 'bash', arguments: '{}' }));
  applyEvent(t, ev(3, 'tool_call', { id: 'b', name: 'bash', arguments: '{}' }));
  applyEvent(t, ev(4, 'tool_call', { id: 'c', name: 'bash', arguments: '{}' }));
  assert.deepEqual(takeDirty(t), { from: 0, drop: 0 });
  assert.deepEqual(takeDirty(t), { from: t.items.length, drop: 0 }); // nothing new
  applyEvent(t, ev(5, 'tool_result', { id: 'a', content: 'ok' }));
  assert.equal(takeDirty(t).from, 1);
  applyEvent(t, ev(6, 'message', { role: 'assistant', text: 'x', partial: true }));
  assert.equal(takeDirty(t).from, 4);
  applyEvent(t, ev(7, 'message', { role: 'assistant', text: 'y', partial: true }));
  assert.equal(takeDirty(t).from, 4);
  assert.equal(t.items[4].text, 'xy');
  // Past the bound the oldest go: the view removes that many nodes and draws only the new ones.
  for (let i = 0; i < MAX_ITEMS; i++) applyEvent(t, ev(100 + i, 'message', { role: 'user', text: 'z' }));
  const after = takeDirty(t);
  assert.equal(after.drop, 5);
  assert.equal(after.from, 0); // every item held now arrived since the last draw
  assert.equal(t.items.length, MAX_ITEMS);
  applyEvent(t, ev(5000, 'message', { role: 'user', text: 'last' }));
  assert.deepEqual(takeDirty(t), { from: MAX_ITEMS - 1, drop: 1 });
});

test('the text held is bounded in total: many huge tool outputs keep only the newest', () => {
  const t = newTranscript();
  for (let i = 0; i < 300; i++) {
    applyEvent(t, ev(2 * i + 1, 'tool_call', { id: `c${i}`, name: 'bash', arguments: 'a'.repeat(MAX_TEXT) }));
    applyEvent(t, ev(2 * i + 2, 'tool_result', { id: `c${i}`, content: 'b'.repeat(MAX_TEXT) }));
  }
  const total = t.items.reduce((n, i) => n + (i.arguments || '').length + (i.result ? i.result.content.length : 0), 0);
  assert.ok(total <= MAX_TOTAL_TEXT, `${total}`);
  assert.equal(t.items[t.items.length - 1].id, 'c299');
  assert.ok(t.dropped > 200);
});

test('steps are shown with their generation, and a rewind drops what came after its step', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'status', { status: 'created', model: 'smol' }));
  applyEvent(t, ev(2, 'checkpoint', { step: 0, kind: 'start', generation: 1 }));
  applyEvent(t, ev(3, 'message', { role: 'user', text: 'write one' }));
  applyEvent(t, ev(4, 'tool_call', { id: 'c1', name: 'write_file', arguments: '{}' }));
  applyEvent(t, ev(5, 'tool_result', { id: 'c1', name: 'write_file', content: 'ok', is_error: false }));
  applyEvent(t, ev(6, 'checkpoint', { step: 1, kind: 'tool', generation: 2 }));
  applyEvent(t, ev(7, 'message', { role: 'assistant', text: 'wrote', partial: false }));
  applyEvent(t, ev(8, 'checkpoint', { step: 2, kind: 'turn', generation: null }));
  assert.deepEqual(t.items.map((i) => i.kind), ['status', 'step', 'user', 'tool', 'step', 'assistant', 'step']);
  assert.deepEqual(t.items.filter((i) => i.kind === 'step').map((i) => [i.step, i.generation, i.text]), [[0, 1, 'Start'], [1, 2, 'Step 1'], [2, null, 'Step 2']]);
  takeDirty(t);
  applyEvent(t, ev(9, 'status', { status: 'rewinding', step: 1 }));
  applyEvent(t, ev(10, 'rewind', { step: 1, seq: 6, generation: 2 }));
  assert.deepEqual(t.items.map((i) => i.kind), ['status', 'step', 'user', 'tool', 'step', 'status']);
  assert.equal(t.items[5].text, 'rewound to step 1');
  // The view redraws from the first item it lost.
  assert.equal(takeDirty(t).from, 5);
  // A hostile rewind (no seq, a string step) neither throws nor empties more than it says.
  applyEvent(t, ev(11, 'rewind', { step: 'x', seq: 'y' }));
  assert.equal(t.items[t.items.length - 1].text, 'rewound to step 0');
  applyEvent(t, ev(12, 'checkpoint', { step: -4, kind: {}, generation: 1.5 }));
  const last = t.items[t.items.length - 1];
  assert.deepEqual([last.step, last.generation], [0, null]);
});

test('a fork corrects the copied steps: only the step it was forked at has files, as its own generation', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'checkpoint', { step: 0, kind: 'start', generation: 3 }));
  applyEvent(t, ev(2, 'message', { role: 'user', text: 'hi' }));
  applyEvent(t, ev(3, 'checkpoint', { step: 1, kind: 'tool', generation: 4 }));
  takeDirty(t);
  applyEvent(t, ev(4, 'status', { status: 'forked', from: 'as_1', step: 1, generation: 1 }));
  assert.deepEqual(t.items.filter((i) => i.kind === 'step').map((i) => i.generation), [null, 1]);
  assert.equal(takeDirty(t).from, 0);
  assert.equal(t.items[t.items.length - 1].text, 'forked from step 1 of as_1');
});

test('purged messages show as purged, one item each', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'message', { role: 'user', text: '', purged: true }));
  applyEvent(t, ev(2, 'message', { role: 'assistant', text: '', purged: true }));
  applyEvent(t, ev(3, 'message', { role: 'assistant', text: '', purged: true }));
  assert.deepEqual(t.items.map((i) => [i.kind, i.text]), [['user', '(content purged)'], ['assistant', '(content purged)'], ['assistant', '(content purged)']]);
});

test('a call the turn ended without running says so, not "running"', () => {
  const t = newTranscript();
  applyEvent(t, ev(1, 'agent_busy', {}));
  applyEvent(t, ev(2, 'tool_call', { id: 'c1', name: 'bash', arguments: '{}' }));
  assert.equal(t.items[0].stopped, undefined);
  takeDirty(t);
  applyEvent(t, ev(3, 'agent_idle', { outcome: 'loop_detected' }));
  assert.equal(t.items[0].stopped, true);
  assert.equal(takeDirty(t).from, 0, 'the call is drawn again');
});
