// The workspace's agent sessions (issue 18), one tab each: the transcript as it streams (SSE,
// resumed from the last event id after a drop or a reload), the model's answers as sanitised
// Markdown, tool steps that fold, copy and download as Markdown, the session's idle timeout, the
// host's memory gauge, rewind and fork at a step, and new sessions on the tenant's providers.
import { $, el, listen } from '../core/dom.js';
import { applyEvent, EVENT_TYPES, newTranscript, statusLine, takeDirty } from '../core/agentevents.js';
import { IDLE_CHOICES, idleLabel, itemMarkdown, markdownFileName, memoryLabel } from '../core/agentrender.js';
import { itemView } from '../core/agentview.js';
import { loadMarkdown } from '../core/markdown.js';
import { ResumableEventSource } from '../core/reconnect.js';

/// Copies `text`; the button says so for a moment.
async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    if (button) { const was = button.textContent; button.textContent = 'Copied'; setTimeout(() => { button.textContent = was; }, 1200); }
  } catch (_) { /* no clipboard (an insecure origin): nothing to do */ }
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown;charset=utf-8' }));
  const a = el('a', { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function mount(root, ctx) {
  const tabs = $('agent-tabs'), log = $('agent-log'), status = $('agent-status');
  const form = $('agent-form'), input = $('agent-input'), start = $('agent-start'), idle = $('agent-idle');
  const cleanups = [];
  let disposed = false;
  let sessions = [];
  let current = null; // { id, transcript, source, open: Set of folded-open tool steps }
  let frame = null;

  const actions = {
    canWrite: ctx.canWrite,
    isOpen: (seq) => !!current && current.open.has(seq),
    setOpen: (seq, open) => { if (current) { if (open) current.open.add(seq); else current.open.delete(seq); } },
    copy: copyText,
  };

  function draw() {
    frame = null;
    if (disposed || !current) return;
    const t = current.transcript;
    const { from, drop } = takeDirty(t);
    // The oldest items were dropped: their nodes go. Items before `from` are drawn and unchanged;
    // the rest (streaming text, a tool that got its result, new items) are drawn again.
    const marker = log.querySelector('.agent-dropped') ? 1 : 0;
    for (let i = 0; i < drop && log.children.length > marker; i++) log.children[marker].remove();
    if (t.dropped && !marker) log.prepend(el('div', { class: 'muted agent-dropped' }, 'Earlier events are not shown.'));
    const kept = t.dropped ? 1 : 0;
    while (log.children.length > kept + from) log.lastChild.remove();
    for (const item of t.items.slice(from)) log.append(itemView(item, actions));
    status.textContent = statusLine(t);
    status.classList.toggle('agent-working', t.busy);
    // The tab says what the stream says, not what the list said when it was read.
    const listed = sessions.find((s) => s.id === current.id);
    const state = t.ended ? 'ended' : t.busy ? 'busy' : 'idle';
    if (listed && listed.state !== state) { listed.state = state; drawTabs(); }
    $('agent-stop').disabled = !t.busy || !ctx.canWrite;
    $('agent-send').disabled = !!t.ended || !ctx.canWrite;
    log.scrollTop = log.scrollHeight;
  }
  const schedule = () => { if (frame === null) frame = requestAnimationFrame(draw); };
  const redrawAll = () => { if (current) { current.transcript.dirtyFrom = 0; log.replaceChildren(); schedule(); } };

  function drawTabs() {
    tabs.replaceChildren(...sessions.map((s) => el('button', {
      type: 'button', role: 'tab', class: current && current.id === s.id ? 'agent-tab active' : 'agent-tab', 'data-id': s.id,
      'aria-selected': String(!!current && current.id === s.id), title: s.id }, `${s.model} · ${s.state}`)));
    tabs.hidden = sessions.length === 0;
    const session = current && sessions.find((s) => s.id === current.id);
    $('agent-tools').hidden = !session;
    if (!session) return;
    const choices = IDLE_CHOICES.some(([s]) => s === session.idle_timeout_seconds) ? IDLE_CHOICES
      : [...IDLE_CHOICES, [session.idle_timeout_seconds, idleLabel(session.idle_timeout_seconds)]];
    idle.replaceChildren(...choices.map(([s, label]) => el('option', { value: String(s) }, label)));
    idle.value = String(session.idle_timeout_seconds);
    idle.disabled = !ctx.canWrite || session.state === 'ended';
  }

  function follow(id) {
    if (current && current.source) current.source.close();
    log.replaceChildren();
    status.textContent = '';
    current = null;
    if (!id) { status.textContent = 'No agent session for this workspace.'; drawTabs(); return; }
    const session = { id, transcript: newTranscript(), source: null, open: new Set() };
    current = session;
    drawTabs();
    session.source = new ResumableEventSource(`/v1/agent-sessions/${encodeURIComponent(id)}/events`, {
      events: EVENT_TYPES,
      cursorParam: 'after',
      onmessage: (event) => {
        if (current !== session) return;
        if (applyEvent(session.transcript, { seq: event.lastEventId, type: event.type, data: event.data })) schedule();
      },
      onstatus: (s) => { if (current === session && s === 'reconnecting') status.textContent = 'Reconnecting…'; },
    });
  }

  async function load(select) {
    let all = [];
    try { all = (await ctx.api('GET', '/v1/agent-sessions')).sessions || []; }
    catch (err) { if (!disposed) status.textContent = err.message; return; }
    if (disposed) return;
    sessions = all.filter((s) => s.workspace === ctx.workspace.id).sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    const keep = current && sessions.some((s) => s.id === current.id) ? current.id : null;
    const id = select && sessions.some((s) => s.id === select) ? select : keep || (sessions[0] && sessions[0].id);
    if (!current || current.id !== id) follow(id); else drawTabs();
  }

  async function openStart() {
    let providers = [];
    try { providers = (await ctx.api('GET', '/v1/agent-providers')).providers || []; }
    catch (err) { ctx.toast(err.message, true); return; }
    if (disposed) return;
    if (!providers.length) { ctx.toast('No agent provider is set up for this tenant (hearth agent provider …).', true); return; }
    $('agent-provider').replaceChildren(...providers.map((p) => el('option', { value: p.name }, p.has_my_key ? `${p.name} (your key)` : p.name)));
    start.hidden = false;
    $('agent-model').focus();
  }

  async function create(e) {
    e.preventDefault();
    const provider = $('agent-provider').value, model = $('agent-model').value.trim();
    if (!provider || !model) return;
    try {
      const s = await ctx.api('POST', '/v1/agent-sessions', { provider, model, workspace: ctx.workspace.id });
      start.hidden = true;
      await load(s.id);
    } catch (err) { ctx.toast(err.message, true); }
  }

  async function send(e) {
    e.preventDefault();
    const text = input.value;
    if (!current || !text.trim()) return;
    // One key per message typed, so a retried POST is not a second message.
    const key = 'web-' + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    try {
      await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(current.id)}/messages`, { text }, { headers: { 'Idempotency-Key': key } });
      input.value = '';
    } catch (err) { ctx.toast(err.message, true); }
  }

  async function stop() {
    if (!current) return;
    try { await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(current.id)}/cancel`); }
    catch (err) { ctx.toast(err.message, true); }
  }

  async function setIdle() {
    if (!current) return;
    try {
      const updated = await ctx.api('PATCH', `/v1/agent-sessions/${encodeURIComponent(current.id)}`, { idle_timeout_seconds: Number(idle.value) });
      ctx.toast(`The session now ends after ${idleLabel(updated.idle_timeout_seconds)} idle.`);
      // The answer is the session as it now is: no need to list them all again.
      sessions = sessions.map((s) => (s.id === updated.id ? updated : s));
      drawTabs();
    } catch (err) { ctx.toast(err.message, true); }
  }

  /// The transcript as the server exports it (scrubbed, rewound steps left out).
  async function transcript() {
    return ctx.api('GET', `/v1/agent-sessions/${encodeURIComponent(current.id)}/transcript?format=md`);
  }

  // Buttons inside the log (copy, download, rewind, fork); one listener serves them all.
  async function logClick(e) {
    const button = e.target.closest && e.target.closest('button');
    if (!button || !current) return;
    const id = current.id;
    if (button.classList.contains('agent-copy') || button.classList.contains('agent-save')) {
      const item = current.transcript.items.find((i) => String(i.seq) === button.dataset.seq);
      if (!item) return;
      if (button.classList.contains('agent-copy')) copyText(itemMarkdown(item), button); else download(markdownFileName(id, item.seq), itemMarkdown(item));
      return;
    }
    if (!button.dataset.step) return;
    const step = Number(button.dataset.step);
    if (button.classList.contains('agent-rewind')) {
      // Two clicks, the second within 5 s: a rewind restarts the workspace with older files.
      if (button.dataset.armed !== '1') {
        button.dataset.armed = '1';
        button.textContent = 'Confirm rewind';
        button.title = "The workspace's files go back too (it restarts if it is running)";
        setTimeout(() => { if (button.isConnected) { button.dataset.armed = ''; button.textContent = 'Rewind'; } }, 5000);
        return;
      }
      button.disabled = true;
      try { await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(id)}/rewind`, { step }); ctx.toast(`Rewound to step ${step}.`); }
      catch (err) { ctx.toast(err.message, true); button.disabled = false; }
    } else if (button.classList.contains('agent-fork')) {
      button.disabled = true;
      try {
        const forked = await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(id)}/fork`, { step });
        ctx.toast(`Forked into a new session on workspace ${forked.workspace}.`);
        location.hash = `#/w/${encodeURIComponent(forked.workspace)}`;
      } catch (err) { ctx.toast(err.message, true); button.disabled = false; }
    }
  }

  async function gauge() {
    try {
      const system = await ctx.api('GET', '/v1/system', undefined, { quiet: true });
      if (disposed) return;
      const meter = $('agent-memory');
      meter.value = Math.min(1, Math.max(0, Number(system.memory_pressure) || 0));
      meter.high = Math.min(1, Math.max(0, Number(system.admission_threshold) || 0.9));
      meter.title = memoryLabel(system);
      $('agent-memory-label').textContent = memoryLabel(system);
    } catch (_) { /* the gauge waits for the next round */ }
  }

  cleanups.push(listen(log, 'click', logClick));
  cleanups.push(listen(tabs, 'click', (e) => { const b = e.target.closest('button[data-id]'); if (b) follow(b.dataset.id); }));
  cleanups.push(listen($('agent-new'), 'click', openStart));
  cleanups.push(listen($('agent-start-cancel'), 'click', () => { start.hidden = true; }));
  cleanups.push(listen(start, 'submit', create));
  cleanups.push(listen(form, 'submit', send));
  cleanups.push(listen(input, 'keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e); }));
  cleanups.push(listen($('agent-stop'), 'click', stop));
  cleanups.push(listen(idle, 'change', setIdle));
  cleanups.push(listen($('agent-copy-all'), 'click', async (e) => { if (current) copyText(await transcript(), e.currentTarget); }));
  cleanups.push(listen($('agent-download'), 'click', async () => {
    if (!current) return;
    try { download(markdownFileName(current.id), await transcript()); } catch (err) { ctx.toast(err.message, true); }
  }));
  const timer = setInterval(gauge, 10_000);
  cleanups.push(() => clearInterval(timer));
  $('agent-new').hidden = !ctx.canWrite;
  form.hidden = !ctx.canWrite;
  // The model's Markdown renders once marked and DOMPurify are loaded; until then, as text.
  loadMarkdown().then((ok) => { if (ok && !disposed) redrawAll(); });
  gauge();
  load();
  return {
    dispose() {
      disposed = true;
      if (frame !== null) cancelAnimationFrame(frame);
      if (current && current.source) current.source.close();
      current = null;
      for (const c of cleanups) c();
      log.replaceChildren();
      tabs.replaceChildren();
      status.textContent = '';
      start.hidden = true;
    },
  };
}
