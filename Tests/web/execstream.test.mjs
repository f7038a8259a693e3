// The exec-stream parser reads bytes a workspace wrote: it must never throw anything but its own
// error, never hold more than one bounded frame, and read frames split at any byte.
import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_PAYLOAD, ExecStreamError, ExecStreamParser, Kind, decodeExecOutput } from '../../Sources/HearthServer/Web/core/execstream.js';
import { seeded } from './seeded.mjs';

function frame(kind, payload) {
  const out = new Uint8Array(5 + payload.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}
const concat = (parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
const utf8 = (s) => new TextEncoder().encode(s);

test('frames round-trip across arbitrary splits', () => {
  const random = seeded(42);
  for (let round = 0; round < 500; round++) {
    const frames = Array.from({ length: 1 + random.int(8) }, () => ({ kind: 1 + random.int(9), payload: random.bytes(random.int(300)) }));
    const bytes = concat(frames.map((f) => frame(f.kind, f.payload)));
    const parser = new ExecStreamParser();
    const parsed = [];
    for (let offset = 0; offset < bytes.length;) {
      const piece = 1 + random.int(64);
      parser.push(bytes.subarray(offset, offset + piece));
      offset += piece;
      for (let f; (f = parser.next()) !== null;) parsed.push(f);
    }
    assert.deepEqual(parsed.map((f) => f.kind), frames.map((f) => f.kind));
    assert.deepEqual(parsed.map((f) => [...f.payload]), frames.map((f) => [...f.payload]));
    assert.equal(parser.bufferedBytes, 0);
  }
});

test('a declared length over the bound or an unknown kind fails at the header', () => {
  const parser = new ExecStreamParser(1024);
  parser.push(Uint8Array.of(1, 0, 0, 4, 1));
  assert.throws(() => parser.next(), ExecStreamError);
  const unknown = new ExecStreamParser();
  unknown.push(Uint8Array.of(200, 0, 0, 0, 0));
  assert.throws(() => unknown.next(), ExecStreamError);
  const huge = new ExecStreamParser();
  huge.push(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff));
  assert.throws(() => huge.next(), ExecStreamError, 'a 4 GiB length is over the default bound, not a wait');
  assert.ok(DEFAULT_MAX_PAYLOAD < 0xffffffff);
});

test('fuzz: random bytes never throw anything but ExecStreamError and stay bounded', () => {
  const random = seeded(0x5eed);
  const maxPayload = 4096;
  for (let round = 0; round < 5000; round++) {
    const parser = new ExecStreamParser(maxPayload);
    const input = random.bytes(random.int(600));
    if (random.int(3) === 0 && input.length >= 5) input[0] = 1 + random.int(9);
    let pushed = 0;
    try {
      for (let offset = 0; offset < input.length;) {
        const piece = 1 + random.int(50);
        const chunk = input.subarray(offset, offset + piece);
        parser.push(chunk);
        pushed = chunk.length;
        offset += piece;
        for (let f; (f = parser.next()) !== null;) assert.ok(f.payload.length <= maxPayload);
        assert.ok(parser.bufferedBytes <= 5 + maxPayload + pushed);
      }
    } catch (error) {
      assert.ok(error instanceof ExecStreamError, String(error));
    }
  }
});

test('decodeExecOutput gives stdout, stderr and the exit, and cuts output at its bound', () => {
  const body = concat([frame(Kind.started, utf8('{}')), frame(Kind.stdout, utf8('/workspace/a\n')), frame(Kind.stderr, utf8('warn')),
    frame(Kind.stdout, utf8('/workspace/b\n')), frame(Kind.exit, utf8('{"code":0}'))]);
  const out = decodeExecOutput(body);
  assert.equal(out.stdout, '/workspace/a\n/workspace/b\n');
  assert.equal(out.stderr, 'warn');
  assert.deepEqual(out.exit, { code: 0 });
  assert.equal(decodeExecOutput(body, { maxOutput: 5 }).stdout, '/work');
  // A UTF-8 character split across two frames is still one character.
  const split = concat([frame(Kind.stdout, Uint8Array.of(0xc3)), frame(Kind.stdout, Uint8Array.of(0xa9))]);
  assert.equal(decodeExecOutput(split).stdout, 'é');
});
