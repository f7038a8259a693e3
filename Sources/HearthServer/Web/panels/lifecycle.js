// The workspace's own controls: pause, resume, stop and start, with the state shown as it
// changes. While the workspace is not running, the page offers nothing that needs it (no
// "+ Terminal", no ports): #ws-view carries data-state for the stylesheet.
import { $, el, listen, toast } from '../core/dom.js';

const TRANSITIONS = { pause: 'pausing', resume: 'resuming', stop: 'stopping', start: 'starting' };
const BUSY = new Set(['creating', 'pausing', 'resuming', 'stopping', 'starting', 'deleting']);
const POLL_MS = 3000;

/// Which controls a state offers.
export function controlsFor(state) {
  switch (state) {
    case 'running': return ['pause', 'stop'];
    case 'paused': return ['resume', 'stop'];
    case 'stopped': case 'failed': return ['start'];
    default: return [];
  }
}

export function mount(root, ctx) {
  const box = $('ws-controls');
  const cleanups = [];
  let pending = null, pendingFrom = null, poll = null, disposed = false;

  function render() {
    const state = ctx.workspace.state;
    $('ws-view').dataset.state = state;
    // The socket may report the new state before the request returns: the state it reports wins.
    const waiting = pending && state === pendingFrom;
    const label = waiting ? TRANSITIONS[pending] : state;
    const status = el('span', { id: 'ws-state', class: 'state-' + label + (waiting || BUSY.has(state) ? ' busy' : ''), role: 'status' }, label);
    const buttons = ctx.canWrite && !waiting && !BUSY.has(state) ? controlsFor(state).map((verb) =>
      el('button', { id: 'ws-' + verb, onclick: () => act(verb) }, verb[0].toUpperCase() + verb.slice(1))) : [];
    box.replaceChildren(status, ...buttons);
  }

  async function act(verb) {
    if (pending && ctx.workspace.state === pendingFrom) return;
    pending = verb;
    pendingFrom = ctx.workspace.state;
    render();
    let result = null;
    try { result = await ctx.api('POST', `/v1/workspaces/${ctx.workspace.id}/${verb}`); }
    catch (err) { if (!ctx.gone(err)) toast(err.message, true); }
    if (pending === verb) pending = null;
    if (disposed) return;
    if (result && result.state) ctx.setState(result.state); else render();
  }

  // Without a terminal socket to hear it from (a viewer of a paused workspace, say), look now
  // and then while the workspace is in between or not running.
  function schedule() {
    clearInterval(poll);
    poll = ctx.workspace.state === 'running' ? null : setInterval(async () => {
      try { const w = await ctx.api('GET', `/v1/workspaces/${ctx.workspace.id}`); if (!disposed && w.state !== ctx.workspace.state) ctx.setState(w.state); }
      catch (err) { ctx.gone(err); }
    }, POLL_MS);
  }

  cleanups.push(listen(ctx.bus, 'state', () => { render(); schedule(); }));
  for (const verb of Object.keys(TRANSITIONS)) {
    const name = verb[0].toUpperCase() + verb.slice(1) + ' workspace';
    cleanups.push(ctx.commands.add(name, () => { if (controlsFor(ctx.workspace.state).includes(verb)) act(verb); else toast(`The workspace is ${ctx.workspace.state}.`, true); }));
  }
  render();
  schedule();
  return {
    dispose() {
      disposed = true;
      clearInterval(poll);
      for (const c of cleanups) c();
      box.replaceChildren();
      delete $('ws-view').dataset.state;
    },
  };
}
