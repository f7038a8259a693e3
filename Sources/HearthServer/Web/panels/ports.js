// The ports the workspace listens on, each with a preview link. The server pushes the list
// when it changes (Server-Sent Events, resumed after a drop); the page does not poll. Redrawn
// only when the set changes, so an Open button is not replaced under the pointer. A paused or
// stopped workspace offers none.
import { $, el, listen } from '../core/dom.js';
import { ResumableEventSource } from '../core/reconnect.js';
import { portView } from '../core/text.js';

export function mount(root, ctx) {
  const list = $('port-list');
  const cleanups = [];
  let disposed = false;

  function draw(key, items) {
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...items);
  }

  function show(ports) {
    if (disposed || ctx.workspace.state !== 'running') return;
    const view = portView(ports);
    draw(view.key, view.ports.length ? view.ports.map((p) => el('li', { 'data-port': p.port }, el('span', {}, `${p.port}`),
      el('a', { href: `/w/${ctx.workspace.id}/p/${p.port}/`, target: '_blank', rel: 'noopener' }, el('button', {}, 'Open'))))
      : [el('li', { class: 'muted' }, 'Nothing is listening.')]);
  }

  function showState() {
    draw('state:' + ctx.workspace.state, [el('li', { class: 'muted' }, `The workspace is ${ctx.workspace.state}.`)]);
  }

  // The Refresh button: ask now.
  async function refresh() {
    if (disposed) return;
    if (ctx.workspace.state !== 'running') return showState();
    let ports;
    try { ports = (await ctx.api('GET', `/v1/workspaces/${ctx.workspace.id}/ports`)).ports; }
    catch (err) { if (!ctx.gone(err) && !disposed) draw('error:' + err.message, [el('li', { class: 'muted' }, err.message)]); return; }
    show(ports);
  }

  let source = null;
  function follow() {
    if (ctx.workspace.state === 'running') {
      if (source) return;
      source = new ResumableEventSource(`/v1/workspaces/${ctx.workspace.id}/ports/events`, {
        events: ['ports'],
        onmessage: (event) => {
          let value;
          try { value = JSON.parse(event.data); } catch (_) { return; }
          if (value && Array.isArray(value.ports)) show(value.ports);
        },
      });
    } else {
      if (source) { source.close(); source = null; }
      showState();
    }
  }

  cleanups.push(listen($('refresh-ports'), 'click', refresh));
  cleanups.push(listen(ctx.bus, 'state', follow));
  if (ctx.workspace.state === 'running') refresh();
  follow();
  return {
    dispose() {
      disposed = true;
      if (source) source.close();
      for (const c of cleanups) c();
      list.replaceChildren();
      list.dataset.key = '';
    },
  };
}
