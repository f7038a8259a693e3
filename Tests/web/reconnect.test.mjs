import test from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, ResumableEventSource, ResumableSocket } from '../../Sources/HearthServer/Web/core/reconnect.js';

test('backoff doubles, is capped, and jitter only shortens it', () => {
  const none = { random: () => 0 };
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(n, { base: 500, max: 15000, ...none })), [500, 1000, 2000, 4000]);
  assert.equal(backoffDelay(40, { base: 500, max: 15000, ...none }), 15000);
  assert.equal(backoffDelay(1e9, none), 15000, 'a huge attempt count does not overflow');
  assert.equal(backoffDelay(-3, none), 500);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, { base: 500, max: 15000, jitter: 0.3 });
    assert.ok(d >= 2800 && d <= 4000, String(d));
  }
});

class FakeTimers {
  constructor() { this.queue = []; this.id = 0; }
  setTimeout(fn, ms) { const id = ++this.id; this.queue.push({ id, fn, ms }); return id; }
  clearTimeout(id) { this.queue = this.queue.filter((t) => t.id !== id); }
  runNext() { const t = this.queue.shift(); t.fn(); return t.ms; }
}

function fakeSockets() {
  const made = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.readyState = 0; this.sent = []; made.push(this); }
    open() { this.readyState = 1; this.onopen && this.onopen(); }
    drop() { this.readyState = 3; this.onclose && this.onclose(); }
    send(m) { this.sent.push(m); }
    close() { this.readyState = 3; this.closedByUs = true; }
  }
  return { made, FakeSocket };
}

test('a socket reconnects with growing delays, resets them once open, and says when it resumed', () => {
  const timers = new FakeTimers();
  const { made, FakeSocket } = fakeSockets();
  const opens = [];
  const socket = new ResumableSocket('ws://h/ws', { WebSocketImpl: FakeSocket, timers, backoff: { random: () => 0 }, onopen: (s, resumed) => opens.push(resumed) });
  assert.equal(socket.send({ type: 'list' }), false, 'nothing is sent before the socket opens');
  made[0].open();
  assert.equal(socket.send({ type: 'list' }), true);
  assert.deepEqual(made[0].sent, ['{"type":"list"}']);
  made[0].drop();
  assert.equal(timers.runNext(), 500);
  made[1].drop();
  assert.equal(timers.runNext(), 1000);
  made[2].open();
  made[2].drop();
  assert.equal(timers.runNext(), 500, 'an open resets the backoff');
  assert.deepEqual(opens, [false, true]);
  socket.close();
  assert.equal(made[3].closedByUs, true);
  made[3].onclose && made[3].onclose();
  assert.equal(timers.queue.length, 0, 'a closed socket does not reconnect');
});

test('messages from a replaced socket are ignored', () => {
  const timers = new FakeTimers();
  const { made, FakeSocket } = fakeSockets();
  const seen = [];
  new ResumableSocket(() => 'ws://h/ws', { WebSocketImpl: FakeSocket, timers, onmessage: (e) => seen.push(e.data) });
  const old = made[0];
  old.open();
  const onmessage = old.onmessage;
  old.drop();
  timers.runNext();
  onmessage({ data: 'stale' });
  made[1].onmessage({ data: 'fresh' });
  assert.deepEqual(seen, ['fresh']);
});

test('an event source resumes from the last event id after the browser gives up', () => {
  const timers = new FakeTimers();
  const made = [];
  class FakeSource {
    constructor(url) { this.url = url; this.readyState = 0; this.listeners = {}; made.push(this); }
    addEventListener(name, fn) { this.listeners[name] = fn; }
    close() { this.readyState = 2; }
  }
  const seen = [];
  const source = new ResumableEventSource('/v1/x/events?a=1', { EventSourceImpl: FakeSource, timers, events: ['ports'], onmessage: (e) => seen.push(e.data) });
  made[0].listeners.ports({ data: 'p1', lastEventId: '7' });
  made[0].onerror();
  assert.equal(timers.queue.length, 0, 'a transient error is the browser\'s to retry');
  made[0].readyState = 2;
  made[0].onerror();
  timers.runNext();
  assert.equal(made[1].url, '/v1/x/events?a=1&cursor=7');
  made[1].onmessage({ data: 'p2', lastEventId: '' });
  assert.deepEqual(seen, ['p1', 'p2']);
  source.close();
  assert.equal(made[1].readyState, 2);
});
