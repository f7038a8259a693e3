// The workspace list and the create form.
import { $, el, listen, toast } from '../core/dom.js';
import { imageLabel } from '../core/text.js';

export function mount(root, ctx) {
  const cleanups = [];
  let disposed = false;
  const writer = ctx.canWrite;

  async function refresh() {
    const body = $('workspaces').tBodies[0];
    let list;
    try { list = (await ctx.api('GET', '/v1/workspaces')).workspaces; } catch (err) { return toast(err.message, true); }
    if (disposed) return;
    const rows = [];
    if (list.length === 0) rows.push(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No workspaces yet.')));
    for (const w of list) {
      const actions = el('td');
      actions.append(el('button', { onclick: () => { location.hash = '#/w/' + encodeURIComponent(w.id); } }, 'Open'));
      if (writer) {
        if (w.state === 'running') actions.append(el('button', { onclick: () => lifecycle(w.id, 'pause') }, 'Pause'));
        if (w.state === 'paused') actions.append(el('button', { onclick: () => lifecycle(w.id, 'resume') }, 'Resume'));
        if (w.state === 'stopped' || w.state === 'failed') actions.append(el('button', { onclick: () => lifecycle(w.id, 'start') }, 'Start'));
        actions.append(el('button', { onclick: () => { if (confirm(`Delete ${w.name}? Its files are lost.`)) lifecycle(w.id, 'delete'); } }, 'Delete'));
      }
      rows.push(el('tr', { 'data-id': w.id, 'data-name': w.name },
        el('td', {}, w.name), el('td', {}, el('span', { class: 'state-' + w.state }, w.state)), el('td', {}, w.runtime),
        el('td', { title: w.image, class: 'image' }, imageLabel(w.image)), el('td', {}, new Date(w.created_at).toLocaleString()), actions));
    }
    body.replaceChildren(...rows);
  }

  async function lifecycle(id, verb) {
    try {
      if (verb === 'delete') await ctx.api('DELETE', `/v1/workspaces/${id}`); else await ctx.api('POST', `/v1/workspaces/${id}/${verb}`);
    } catch (err) { toast(err.message, true); }
    refresh();
  }

  const form = $('create-form');
  form.hidden = !writer;
  cleanups.push(listen(form, 'submit', async (e) => {
    e.preventDefault();
    const button = $('create-submit');
    button.disabled = true;
    button.textContent = 'Creating…';
    try {
      const name = $('create-name').value.trim();
      await ctx.api('POST', '/v1/workspaces', name ? { name } : {});
      $('create-name').value = '';
    } catch (err) { toast(err.message, true); }
    button.disabled = false;
    button.textContent = 'Create workspace';
    if (!disposed) refresh();
  }));
  refresh();
  return { dispose() { disposed = true; for (const c of cleanups) c(); } };
}
