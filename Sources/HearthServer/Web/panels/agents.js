// The workspace's agent sessions (issue 18): pick one, read its transcript as it streams (SSE,
// resumed from the last event id after a drop), send it a message, stop its turn, or start a new
// session on one of the tenant's providers. What an agent says and what its tools print came from
// a model and from the workspace: it is shown as text only, never as HTML.
import { $, el, listen } from '../core/dom.js';
import { applyEvent, EVENT_TYPES, newTranscript, statusLine, takeDirty } from '../core/agentevents.js';
import { ResumableEventSource } from '../core/reconnect.js';

const KIND_LABEL = { user: 'You', assistant: 'Agent', thinking: 'Thinking', tool: 'Tool', status: '', error: 'Error', scrub: 'Scrubbed', step: '' };

function itemView(item, canWrite) {
  const head = KIND_LABEL[item.kind];
  const node = el('div', { class: `agent-item agent-${item.kind}`, 'data-seq': item.seq });
  if (item.kind === 'step') {
    node.append(el('span', { class: 'muted' }, item.generation === null ? `${item.text} (files not kept)` : `${item.text} · generation ${item.generation}`));
    if (canWrite && item.generation !== null) {
      node.append(el('button', { type: 'button', class: 'agent-rewind', 'data-step': item.step, title: 'Put the conversation and the files back to this step' }, 'Rewind'),
        el('button', { type: 'button', class: 'agent-fork', 'data-step': item.step, title: 'A new session and workspace from this step' }, 'Fork'));
    }
    return node;
  }
  if (item.kind === 'tool') {
    node.append(el('div', { class: 'agent-head' }, `${item.name}`), el('pre', { class: 'agent-args' }, item.arguments));
    if (item.result) {
      const r = item.result;
      const note = [r.exitCode !== null ? `exit ${r.exitCode}` : null, r.isError ? 'error' : null, r.truncated ? 'truncated' : null, `${r.ms} ms`]
        .filter(Boolean).join(' · ');
      node.append(el('pre', { class: r.isError ? 'agent-out agent-bad' : 'agent-out' }, r.content), el('div', { class: 'muted' }, note));
    } else {
      node.append(el('div', { class: 'muted' }, 'running…'));
    }
    return node;
  }
  if (head) node.append(el('div', { class: 'agent-head' }, head));
  node.append(el('div', { class: 'agent-text' }, item.text + (item.partial ? ' ▍' : '')));
  return node;
}

export function mount(root, ctx) {
  const picker = $('agent-session'), log = $('agent-log'), status = $('agent-status');
  const form = $('agent-form'), input = $('agent-input'), start = $('agent-start');
  const cleanups = [];
  let disposed = false;
  let current = null; // { id, transcript, source, drawn }
  let frame = null;

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
    for (const item of t.items.slice(from)) log.append(itemView(item, ctx.canWrite));
    status.textContent = statusLine(t);
    $('agent-stop').disabled = !t.busy || !ctx.canWrite;
    $('agent-send').disabled = !!t.ended || !ctx.canWrite;
    log.scrollTop = log.scrollHeight;
  }
  const schedule = () => { if (frame === null) frame = requestAnimationFrame(draw); };

  function follow(id) {
    if (current && current.source) current.source.close();
    log.replaceChildren();
    status.textContent = '';
    current = null;
    if (!id) { status.textContent = 'No agent session for this workspace.'; return; }
    const session = { id, transcript: newTranscript(), source: null };
    current = session;
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
    let sessions = [];
    try { sessions = (await ctx.api('GET', '/v1/agent-sessions')).sessions || []; }
    catch (err) { if (!disposed) status.textContent = err.message; return; }
    if (disposed) return;
    const mine = sessions.filter((s) => s.workspace === ctx.workspace.id).sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    picker.replaceChildren(...mine.map((s) => el('option', { value: s.id }, `${s.model} · ${s.state} · ${s.id.slice(0, 9)}`)));
    picker.hidden = mine.length === 0;
    const id = select && mine.some((s) => s.id === select) ? select : mine[0] && mine[0].id;
    if (id) picker.value = id;
    if (!current || current.id !== id) follow(id);
  }

  async function openStart() {
    let providers = [];
    try { providers = (await ctx.api('GET', '/v1/agent-providers')).providers || []; }
    catch (err) { ctx.toast(err.message, true); return; }
    if (disposed) return;
    if (!providers.length) { ctx.toast('No agent provider is set up for this tenant (hearth agent provider …).', true); return; }
    $('agent-provider').replaceChildren(...providers.map((p) => el('option', { value: p.name }, p.name)));
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

  // Rewind and fork buttons sit on the step lines; one listener on the log serves them all.
  async function stepAction(e) {
    const button = e.target.closest && e.target.closest('button[data-step]');
    if (!button || !current) return;
    const step = Number(button.dataset.step);
    const id = current.id;
    if (button.classList.contains('agent-rewind')) {
      if (!confirm(`Rewind to step ${step}? The workspace's files go back too (it restarts if it is running).`)) return;
      try { await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(id)}/rewind`, { step }); ctx.toast(`Rewound to step ${step}.`); }
      catch (err) { ctx.toast(err.message, true); }
    } else {
      try {
        const forked = await ctx.api('POST', `/v1/agent-sessions/${encodeURIComponent(id)}/fork`, { step });
        ctx.toast(`Forked into a new session on workspace ${forked.workspace}.`);
        location.hash = `#/w/${encodeURIComponent(forked.workspace)}`;
      } catch (err) { ctx.toast(err.message, true); }
    }
  }

  cleanups.push(listen(log, 'click', stepAction));
  cleanups.push(listen(picker, 'change', () => follow(picker.value)));
  cleanups.push(listen($('agent-new'), 'click', openStart));
  cleanups.push(listen($('agent-start-cancel'), 'click', () => { start.hidden = true; }));
  cleanups.push(listen(start, 'submit', create));
  cleanups.push(listen(form, 'submit', send));
  cleanups.push(listen(input, 'keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e); }));
  cleanups.push(listen($('agent-stop'), 'click', stop));
  $('agent-new').hidden = !ctx.canWrite;
  form.hidden = !ctx.canWrite;
  load();
  return {
    dispose() {
      disposed = true;
      if (frame !== null) cancelAnimationFrame(frame);
      if (current && current.source) current.source.close();
      current = null;
      for (const c of cleanups) c();
      log.replaceChildren();
      picker.replaceChildren();
      status.textContent = '';
      start.hidden = true;
    },
  };
}
