// The ports the workspace listens on, each with a preview link. Redrawn only when the set
// changes, so an Open button is not replaced under the pointer. A paused or stopped workspace
// offers none.
import { $, el, listen } from '../core/dom.js';
import { portView } from '../core/text.js';

const POLL_MS = 5000;

export function mount(root, ctx) {
  const list = $('port-list');
  const cleanups = [];
  let timer = null, disposed = false;

  function draw(key, items) {
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...items);
  }

  async function refresh() {
    if (disposed) return;
    if (ctx.workspace.state !== 'running') return draw('state:' + ctx.workspace.state, [el('li', { class: 'muted' }, `The workspace is ${ctx.workspace.state}.`)]);
    let ports;
    try { ports = (await ctx.api('GET', `/v1/workspaces/${ctx.workspace.id}/ports`)).ports; }
    catch (err) { if (!ctx.gone(err) && !disposed) draw('error:' + err.message, [el('li', { class: 'muted' }, err.message)]); return; }
    if (disposed || ctx.workspace.state !== 'running') return;
    const view = portView(ports);
    draw(view.key, view.ports.length ? view.ports.map((p) => el('li', { 'data-port': p.port }, el('span', {}, `${p.port}`),
      el('a', { href: `/w/${ctx.workspace.id}/p/${p.port}/`, target: '_blank', rel: 'noopener' }, el('button', {}, 'Open'))))
      : [el('li', { class: 'muted' }, 'Nothing is listening.')]);
  }

  function schedule() {
    clearInterval(timer);
    timer = ctx.workspace.state === 'running' ? setInterval(refresh, POLL_MS) : null;
  }

  cleanups.push(listen($('refresh-ports'), 'click', refresh));
  cleanups.push(listen(ctx.bus, 'state', () => { refresh(); schedule(); }));
  // A command in a terminal may have started a server: look soon, not in 5 s.
  let soonTimer = null;
  cleanups.push(listen(ctx.bus, 'files-changed', () => { clearTimeout(soonTimer); soonTimer = setTimeout(refresh, 1500); }));
  refresh();
  schedule();
  return {
    dispose() {
      disposed = true;
      clearInterval(timer); clearTimeout(soonTimer);
      for (const c of cleanups) c();
      list.replaceChildren();
      list.dataset.key = '';
    },
  };
}
