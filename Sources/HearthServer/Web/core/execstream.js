// The exec stream, as the server sends it over HTTP or a WebSocket: frames of
// [kind u8][length u32 big-endian][payload]. The bytes come from a workspace, so the parser is
// bounded: a declared length above `maxPayload` or an unknown kind is an error at its header.

export const Kind = Object.freeze({ stdout: 1, stderr: 2, exit: 3, started: 4, error: 5, stdin: 6, stdinEOF: 7, resize: 8, signal: 9 });
export const DEFAULT_MAX_PAYLOAD = 16 << 20;

export class ExecStreamError extends Error {}

export class ExecStreamParser {
  constructor(maxPayload = DEFAULT_MAX_PAYLOAD) {
    this.maxPayload = Math.max(0, maxPayload | 0);
    this.chunks = [];
    this.buffered = 0;
  }

  get bufferedBytes() { return this.buffered; }

  push(bytes) {
    if (bytes.length) { this.chunks.push(bytes); this.buffered += bytes.length; }
  }

  /// The next whole frame `{ kind, payload }`, or null until more bytes arrive.
  next() {
    if (this.buffered < 5) return null;
    const head = this.peek(5);
    const kind = head[0];
    if (kind < 1 || kind > 9) throw new ExecStreamError(`unknown frame kind ${kind}`);
    const length = ((head[1] << 24) >>> 0) + (head[2] << 16) + (head[3] << 8) + head[4];
    if (length > this.maxPayload) throw new ExecStreamError(`a frame of ${length} bytes is over the ${this.maxPayload}-byte bound`);
    if (this.buffered < 5 + length) return null;
    this.take(5);
    return { kind, payload: this.take(length) };
  }

  peek(n) {
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
      if (filled === n) break;
    }
    return out;
  }

  take(n) {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const want = n - filled;
      if (c.length <= want) { out.set(c, filled); filled += c.length; this.chunks.shift(); }
      else { out.set(c.subarray(0, want), filled); filled += want; this.chunks[0] = c.subarray(want); }
    }
    this.buffered -= n;
    return out;
  }
}

/// A whole response body: stdout and stderr as text (each cut at `maxOutput` bytes), and the exit.
export function decodeExecOutput(bytes, { maxOutput = 8 << 20, maxPayload = DEFAULT_MAX_PAYLOAD } = {}) {
  const parser = new ExecStreamParser(maxPayload);
  parser.push(bytes);
  const out = { stdout: [], stderr: [] };
  const sizes = { stdout: 0, stderr: 0 };
  let exit = null, error = null, frame;
  while ((frame = parser.next()) !== null) {
    const name = frame.kind === Kind.stdout ? 'stdout' : frame.kind === Kind.stderr ? 'stderr' : null;
    if (name) {
      const room = Math.max(0, maxOutput - sizes[name]);
      if (room > 0) { out[name].push(frame.payload.subarray(0, room)); sizes[name] += Math.min(room, frame.payload.length); }
    } else if (frame.kind === Kind.exit || frame.kind === Kind.error) {
      let value = null;
      try { value = JSON.parse(new TextDecoder().decode(frame.payload)); } catch (_) { value = null; }
      if (frame.kind === Kind.exit) exit = value; else error = value;
    }
  }
  const text = (parts) => { const d = new TextDecoder(); return parts.map((p) => d.decode(p, { stream: true })).join('') + d.decode(); };
  return { stdout: text(out.stdout), stderr: text(out.stderr), exit, error, truncated: parser.bufferedBytes > 0 };
}
