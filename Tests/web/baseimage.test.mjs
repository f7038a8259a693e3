import test from 'node:test';
import assert from 'node:assert/strict';
import { baseImageView, createFailureView, formatElapsed, FIRST_POLL_MS, nextPoll, POLL_MS } from '../../Sources/HearthServer/Web/core/baseimage.js';
import { seeded } from './seeded.mjs';

test('a building image shows its step and how long it has run (issue 15, item 7)', () => {
  const view = baseImageView({ state: 'building', step: 'unpacking the base image…', elapsed_seconds: 42.7 });
  assert.equal(view.state, 'building');
  assert.equal(view.failed, false);
  assert.equal(view.text, 'The server is preparing the base image: unpacking the base image… (42 s so far)');
  assert.equal(baseImageView({ state: 'building', elapsed_seconds: 125 }).text,
    'The server is preparing the base image: building (2 min 05 s so far)');
});

test('a failed build is a clear error state with the server\'s message', () => {
  const view = baseImageView({ state: 'failed', message: 'cannot build the base image: mmdebstrap is not installed' });
  assert.equal(view.failed, true);
  assert.equal(view.text, 'The base image could not be built: cannot build the base image: mmdebstrap is not installed');
  assert.equal(baseImageView({ state: 'failed' }).text, 'The base image could not be built: no reason given');
});

test('ready, idle, and anything unexpected are not errors', () => {
  assert.equal(baseImageView({ state: 'ready', image: 'sha256:ab' }).failed, false);
  assert.match(baseImageView({ state: 'idle' }).text, /not built yet/);
  for (const odd of [null, undefined, {}, { state: 7 }, { state: 'exploded' }, 'building', []]) {
    const view = baseImageView(odd);
    assert.equal(view.state, 'unknown');
    assert.equal(view.failed, false);
    assert.equal(view.text, 'Creating the workspace…');
  }
});

test('server text is bounded and kept on one line; odd numbers show no time', () => {
  const view = baseImageView({ state: 'building', step: 'x'.repeat(10_000) + '\n<b>', elapsed_seconds: Infinity });
  assert.ok(view.text.length < 400, String(view.text.length));
  assert.ok(!view.text.includes('\n'));
  assert.ok(!view.text.includes('so far'));
  assert.equal(formatElapsed(-1), '');
  assert.equal(formatElapsed(NaN), '');
  assert.equal(formatElapsed('12'), '');
  assert.equal(formatElapsed(0), '0 s');
  assert.equal(formatElapsed(1e300), '5940 min 00 s', 'capped, not a 300-digit number');
});

test('looks go on while the create is pending and the image is not ready', () => {
  assert.equal(nextPoll({ pending: true, polls: 0, status: null }), FIRST_POLL_MS);
  assert.equal(nextPoll({ pending: true, polls: 1, status: { state: 'building' } }), POLL_MS);
  assert.equal(nextPoll({ pending: true, polls: 3, status: { state: 'idle' } }), POLL_MS);
  // A failure seen while the create still waits may be an earlier build's: keep looking.
  assert.equal(nextPoll({ pending: true, polls: 2, status: { state: 'failed' } }), POLL_MS);
  assert.equal(nextPoll({ pending: true, polls: 2, status: { state: 'ready' } }), null);
  assert.equal(nextPoll({ pending: false, polls: 2, status: { state: 'building' } }), null);
});

test('fuzz: any JSON-shaped status gives a bounded one-line label and never throws', () => {
  const rand = seeded(15);
  const pick = (xs) => xs[rand.int(xs.length)];
  const values = [undefined, null, 0, -1, 1e308, NaN, '', 'x', '\n\n', 'é'.repeat(500), [], {}, true];
  for (let i = 0; i < 2000; i++) {
    const status = { state: pick(['idle', 'building', 'ready', 'failed', 'other', ...values]),
      step: pick(values), elapsed_seconds: pick(values), message: pick(values), image: pick(values) };
    const view = baseImageView(status);
    assert.equal(typeof view.text, 'string');
    assert.ok(view.text.length <= 400);
    assert.ok(!/[\n\r]/.test(view.text));
    const delay = nextPoll({ pending: rand.int(2) === 0, polls: rand.int(5), status });
    assert.ok(delay === null || delay === FIRST_POLL_MS || delay === POLL_MS);
  }
});

test('a failed create keeps the failed build in view only when the build is why it failed', () => {
  const failed = { state: 'failed', message: 'the base image could not be built' };
  assert.equal(createFailureView(failed, 'the base image could not be built', false).failed, true);
  assert.equal(createFailureView(failed, 'something else', true).failed, true, 'this create watched the build run and fail');
  assert.equal(createFailureView(failed, 'a workspace named x exists', false), null, 'an earlier failure, an unrelated refusal');
  assert.equal(createFailureView({ state: 'ready' }, 'quota', true), null);
  assert.equal(createFailureView(null, 'x', true), null);
  assert.equal(createFailureView({ state: 'failed' }, '', false), null);
});
