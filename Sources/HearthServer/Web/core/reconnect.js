// Long-lived streams that survive a dropped connection: a WebSocket and an EventSource that
// reconnect with capped exponential backoff, and resume from a cursor where the server keeps one.

/// Delay before reconnect `attempt` (0-based): base·2^attempt, capped, with up to `jitter` of it
/// taken off at random so that many pages do not reconnect in step after a server restart.
export function backoffDelay(attempt, { base = 500, max = 15000, jitter = 0.3, random = Math.random } = {}) {
  const n = Math.min(Math.max(0, attempt | 0), 30);
  const raw = Math.min(max, base * 2 ** n);
  return Math.round(raw * (1 - jitter * random()));
}

/// A WebSocket that reconnects until `close()`. `onopen(socket, resumed)` runs on each connection
/// (resumed is true after the first), `onmessage(event)` for each message. `timers` and
/// `WebSocketImpl` let a test drive it.
export class ResumableSocket {
  constructor(url, { onopen = () => {}, onmessage = () => {}, onstatus = () => {}, binaryType = 'arraybuffer',
    WebSocketImpl = globalThis.WebSocket, timers = globalThis, backoff = {} } = {}) {
    Object.assign(this, { url, onopen, onmessage, onstatus, binaryType, WebSocketImpl, timers, backoff });
    this.attempt = 0;
    this.opened = 0;
    this.closed = false;
    this.timer = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const socket = new this.WebSocketImpl(typeof this.url === 'function' ? this.url() : this.url);
    socket.binaryType = this.binaryType;
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.onstatus('open');
      this.onopen(socket, this.opened++ > 0);
    };
    socket.onmessage = (event) => { if (this.socket === socket) this.onmessage(event); };
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return;
      this.onstatus('reconnecting');
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.timer = this.timers.setTimeout(() => { this.timer = null; this.connect(); }, delay);
    };
  }

  get isOpen() { return !!this.socket && this.socket.readyState === 1; }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    return true;
  }

  close() {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) { this.socket.onclose = null; this.socket.close(); }
  }
}

/// An EventSource that resumes from the last event id it saw: the browser's own retry keeps the
/// id, and after a hard failure (the browser gives up) a new one is made with `?cursor=` (or the
/// stream's own `cursorParam`) set.
export class ResumableEventSource {
  constructor(url, { onmessage = () => {}, onstatus = () => {}, events = [], EventSourceImpl = globalThis.EventSource,
    timers = globalThis, backoff = {}, cursorParam = 'cursor' } = {}) {
    Object.assign(this, { url, onmessage, onstatus, events, EventSourceImpl, timers, backoff, cursorParam });
    this.cursor = null;
    this.attempt = 0;
    this.closed = false;
    this.timer = null;
    this.connect();
  }

  urlWithCursor() {
    if (this.cursor === null) return this.url;
    return this.url + (this.url.includes('?') ? '&' : '?') + this.cursorParam + '=' + encodeURIComponent(this.cursor);
  }

  connect() {
    if (this.closed) return;
    const source = new this.EventSourceImpl(this.urlWithCursor());
    this.source = source;
    const handle = (event) => {
      if (this.source !== source) return;
      this.attempt = 0;
      if (event.lastEventId) this.cursor = event.lastEventId;
      this.onmessage(event);
    };
    source.onmessage = handle;
    for (const name of this.events) source.addEventListener(name, handle);
    source.onopen = () => { if (this.source === source) this.onstatus('open'); };
    source.onerror = () => {
      if (this.source !== source || this.closed) return;
      // CLOSED (2): the browser will not retry by itself.
      if (source.readyState !== 2) { this.onstatus('reconnecting'); return; }
      this.onstatus('reconnecting');
      source.close();
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.timer = this.timers.setTimeout(() => { this.timer = null; this.connect(); }, delay);
    };
  }

  close() {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.source) this.source.close();
  }
}
