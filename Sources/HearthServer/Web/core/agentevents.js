// An agent session's transcript, built from its stored events as the server streams them (SSE,
// `id:` = the event's sequence number). Pure: no DOM, so `node --test` checks it. Everything in an
// event came from a model or from a workspace, so it is only ever shown as text (textContent), and
// every part of the view is bounded: a long session keeps its newest items, a huge tool output
// its head.

export const EVENT_TYPES = ['message', 'tool_call', 'tool_result', 'thinking', 'status', 'agent_busy', 'agent_idle',
  'exit', 'error_event', 'usage', 'scrub', 'checkpoint', 'rewind'];
export const MAX_ITEMS = 1000;
export const MAX_TEXT = 64 * 1024;
/// All the text the view holds, so 1,000 items of 64 KiB (hundreds of MB) cannot freeze a tab.
export const MAX_TOTAL_TEXT = 4 * 1024 * 1024;

export function newTranscript() {
  // dirtyFrom: the first item that changed since the view last drew (Infinity: none), so a view
  // redraws only the tail, and everything after the oldest items are dropped.
  // pendingDrops: items dropped from the front since the view last drew, so it removes as many
  // of its first nodes instead of redrawing everything.
  return { items: [], lastSeq: 0, busy: false, outcome: null, ended: null, tokens: { input: 0, output: 0 }, dropped: 0,
    dirtyFrom: Infinity, pendingDrops: 0 };
}

function weight(item) {
  return (item.text ? item.text.length : 0) + (item.arguments ? item.arguments.length : 0) + (item.result ? item.result.content.length : 0);
}

/// Drops the oldest items past the count or the total text (never the newest one).
function trim(t) {
  let total = 0;
  for (const item of t.items) total += weight(item);
  let extra = Math.max(0, t.items.length - MAX_ITEMS);
  while (extra < t.items.length - 1 && (extra > 0 ? total - dropWeight(t, extra) : total) > MAX_TOTAL_TEXT) extra++;
  if (extra === 0) return;
  t.items.splice(0, extra);
  t.dropped += extra;
  t.pendingDrops += extra;
  t.dirtyFrom = t.dirtyFrom === Infinity ? Infinity : Math.max(0, t.dirtyFrom - extra);
}

function dropWeight(t, n) {
  let w = 0;
  for (let i = 0; i < n; i++) w += weight(t.items[i]);
  return w;
}

function touch(t, item) {
  const index = t.items.lastIndexOf(item);
  if (index >= 0 && index < t.dirtyFrom) t.dirtyFrom = index;
}

function clip(text) {
  if (typeof text !== 'string') return '';
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) + `\n… (${text.length - MAX_TEXT} more characters not shown)` : text;
}

function push(t, item) {
  t.items.push(item);
  t.dirtyFrom = Math.min(t.dirtyFrom, t.items.length - 1);
  trim(t);
  return item;
}

/// The open (still streaming) block of `kind` at the end, if any.
function openBlock(t, kind) {
  const last = t.items[t.items.length - 1];
  return last && last.kind === kind && last.partial ? last : null;
}

function appendText(item, text) {
  if (item.text.length >= MAX_TEXT) return;
  item.text = clip(item.text + text);
}

/// A field as text: only strings and numbers are; anything else (an object whose toString is not a
/// function, say) is the fallback, never a thrown TypeError.
function str(value, fallback = '') {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return fallback;
}

function int(value) { return Number.isSafeInteger(value) && value >= 0 ? value : 0; }

/// Applies one event `{ seq, type, data }` (data: the JSON text of the SSE `data:`). An event at or
/// before the last one applied is ignored, so a resumed stream that repeats one changes nothing.
/// Returns whether the transcript changed.
export function applyEvent(t, { seq, type, data }) {
  const n = Number(seq);
  if (!Number.isSafeInteger(n) || n <= t.lastSeq) return false;
  let d;
  try { d = typeof data === 'string' ? JSON.parse(data) : data; } catch (_) { d = null; }
  if (!d || typeof d !== 'object' || Array.isArray(d)) d = {};
  t.lastSeq = n;
  switch (type) {
    case 'message':
    case 'thinking': {
      const kind = type === 'thinking' ? 'thinking' : d.role === 'user' ? 'user' : 'assistant';
      // Purged under the tenant's retention: the event's kind and time remain, not its text.
      if (d.purged === true) { push(t, { kind, seq: n, text: '(content purged)' }); break; }
      if (kind === 'user') { push(t, { kind, seq: n, text: clip(d.text) }); break; }
      // The assistant's text arrives in chunks (`partial: true`), then a last one (`partial: false`).
      const block = openBlock(t, kind) || push(t, { kind, seq: n, text: '', partial: true });
      appendText(block, typeof d.text === 'string' ? d.text : '');
      if (d.partial !== true) block.partial = false;
      touch(t, block);
      trim(t);
      break;
    }
    case 'tool_call':
      closeBlocks(t);
      push(t, { kind: 'tool', seq: n, id: str(d.id, ''), name: str(d.name, ''), arguments: clip(d.arguments), result: null });
      break;
    case 'tool_result': {
      const id = str(d.id, '');
      const call = [...t.items].reverse().find((i) => i.kind === 'tool' && i.id === id && !i.result);
      const result = { content: clip(d.content), isError: d.is_error === true, truncated: d.truncated === true,
        exitCode: Number.isSafeInteger(d.exit_code) ? d.exit_code : null, ms: int(d.duration_ms) };
      if (call) { call.result = result; touch(t, call); trim(t); } else push(t, { kind: 'tool', seq: n, id, name: str(d.name, ''), arguments: '', result });
      break;
    }
    case 'agent_busy':
      t.busy = true;
      t.outcome = null;
      break;
    case 'agent_idle':
      closeBlocks(t);
      stopTools(t);
      t.busy = false;
      t.outcome = typeof d.outcome === 'string' ? d.outcome : null;
      break;
    case 'status':
      if (d.status === 'finished') {
        closeBlocks(t);
        t.outcome = typeof d.outcome === 'string' ? d.outcome : t.outcome;
        push(t, { kind: 'status', seq: n, text: `turn ${t.outcome || 'finished'} after ${int(d.steps)} steps` });
      } else if (d.status === 'forked') {
        // A forked session's copied steps name the source's generations: only the step it was
        // forked at has files here, as this workspace's generation.
        const at = int(d.step);
        t.items.forEach((item, index) => {
          if (item.kind !== 'step') return;
          item.generation = item.step === at && Number.isSafeInteger(d.generation) ? d.generation : null;
          if (index < t.dirtyFrom) t.dirtyFrom = index;
        });
        push(t, { kind: 'status', seq: n, text: `forked from step ${at} of ${str(d.from, 'another session')}` });
      } else if (d.status === 'created') {
        push(t, { kind: 'status', seq: n, text: `session started with ${str(d.model, 'a model')}` });
      } else if (typeof d.status === 'string') {
        push(t, { kind: 'status', seq: n, text: clip(d.status) });
      }
      break;
    case 'usage':
      t.tokens = { input: int(d.total_input_tokens), output: int(d.total_output_tokens) };
      break;
    case 'error_event':
      push(t, { kind: 'error', seq: n, text: `${str(d.code, 'error')}: ${clip(d.message)}` });
      break;
    case 'scrub':
      push(t, { kind: 'scrub', seq: n, text: `${int(d.count)} secret(s) matching ${str(d.rule, '?')} removed from the ${str(d.target, 'request')}` });
      break;
    case 'checkpoint': {
      // A step the session can go back to (rewind) or start a new session from (fork). Without a
      // generation only the conversation is kept: a rewind to it is refused, so none is offered.
      const step = int(d.step);
      push(t, { kind: 'step', seq: n, step, stepKind: str(d.kind, 'tool'), generation: Number.isSafeInteger(d.generation) ? d.generation : null,
        text: d.kind === 'start' ? 'Start' : `Step ${step}` });
      break;
    }
    case 'rewind': {
      // Everything after the step's checkpoint is no longer the conversation: drop it from view.
      closeBlocks(t);
      const keep = Number.isSafeInteger(d.seq) ? d.seq : n;
      const cut = t.items.findIndex((i) => i.seq > keep);
      if (cut >= 0) {
        t.items.splice(cut);
        t.dirtyFrom = Math.min(t.dirtyFrom, cut);
      }
      t.outcome = null;
      push(t, { kind: 'status', seq: n, text: `rewound to step ${int(d.step)}` });
      break;
    }
    case 'exit':
      closeBlocks(t);
      t.busy = false;
      t.ended = str(d.reason, 'ended');
      push(t, { kind: 'status', seq: n, text: `session ended: ${t.ended}` });
      break;
    default:
      // A kind this page does not know (a newer server): counted, not shown.
      break;
  }
  return true;
}

/// A turn that ended leaves no call running: one without a result was never run (a guard stopped
/// the turn first), and says so instead of "running…".
function stopTools(t) {
  t.items.forEach((item, index) => {
    if (item.kind === 'tool' && !item.result && !item.stopped) {
      item.stopped = true;
      if (index < t.dirtyFrom) t.dirtyFrom = index;
    }
  });
}

/// A turn that ended (or a tool that ran) closes any block still marked as streaming.
function closeBlocks(t) {
  for (let i = t.items.length - 1; i >= 0 && i >= t.items.length - 4; i--) {
    if (t.items[i].partial) { t.items[i].partial = false; if (i < t.dirtyFrom) t.dirtyFrom = i; }
  }
}

/// What the view must do: remove its first `drop` item nodes (the oldest were dropped), then
/// redraw the items from `from` on (after removing its nodes from there). Resets both marks.
export function takeDirty(t) {
  const from = Math.min(t.dirtyFrom, t.items.length);
  const drop = t.pendingDrops;
  t.dirtyFrom = Infinity;
  t.pendingDrops = 0;
  return { from, drop };
}

/// The line under the transcript: what the agent is doing and what it has spent.
export function statusLine(t) {
  const spent = `${t.tokens.input + t.tokens.output} tokens`;
  if (t.ended) return `Ended (${t.ended}) · ${spent}`;
  if (t.busy) return `Working… · ${spent}`;
  return (t.outcome ? `Idle (last turn ${t.outcome})` : 'Idle') + ` · ${spent}`;
}
