// The workspace list and the create form.
import { $, el, listen, toast } from '../core/dom.js';
import { imageLabel } from '../core/text.js';
import { baseImageView, createFailureView, nextPoll } from '../core/baseimage.js';
import { createRequest, idleLabel } from '../core/workspace.js';

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
        el('td', {}, w.name), el('td', { title: idleLabel(w.idle_timeout_s) }, el('span', { class: 'state-' + w.state }, w.state)), el('td', {}, w.runtime),
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

  // While a create waits, say what the server's base-image build is doing (a first create on a
  // fresh machine waits a minute or more for it), and show a failed build as one.
  const progress = $('create-progress');
  progress.hidden = true;
  let pollTimer = null;
  function showProgress(view) {
    if (disposed) return;
    progress.textContent = view.text;
    progress.classList.toggle('failed', view.failed);
    progress.dataset.state = view.state;
    progress.hidden = false;
  }
  /// Looks at the build until `isPending()` turns false; returns whether a look saw it building.
  function watchBaseImage(isPending) {
    let polls = 0, last = null, sawBuilding = false;
    const schedule = () => {
      const delay = nextPoll({ pending: isPending() && !disposed, polls, status: last });
      if (delay !== null) pollTimer = setTimeout(look, delay);
    };
    async function look() {
      pollTimer = null;
      try { last = await ctx.api('GET', '/v1/images/base', undefined, { quiet: true }); } catch (_) { last = null; }
      polls++;
      if (last && last.state === 'building') sawBuilding = true;
      if (!isPending() || disposed) return;
      showProgress(baseImageView(last));
      schedule();
    }
    schedule();
    return () => sawBuilding;
  }
  cleanups.push(() => clearTimeout(pollTimer));

  const form = $('create-form');
  form.hidden = !writer;
  $('create-idle').hidden = !writer;
  cleanups.push(listen(form, 'submit', async (e) => {
    e.preventDefault();
    const button = $('create-submit');
    button.disabled = true;
    button.textContent = 'Creating…';
    progress.hidden = true;
    let pending = true;
    const sawBuilding = watchBaseImage(() => pending);
    try {
      await ctx.api('POST', '/v1/workspaces', createRequest($('create-name').value, $('create-idle').value));
      $('create-name').value = '';
      progress.hidden = true;
    } catch (err) {
      pending = false;
      clearTimeout(pollTimer);
      toast(err.message, true);
      // A create that failed on the base image keeps the failed build in view, not only a toast.
      let status = null;
      try { status = await ctx.api('GET', '/v1/images/base', undefined, { quiet: true }); } catch (_) { /* no status: no view */ }
      const view = createFailureView(status, err.message, sawBuilding());
      if (view) showProgress(view); else progress.hidden = true;
    }
    pending = false;
    clearTimeout(pollTimer);
    pollTimer = null;
    button.disabled = false;
    button.textContent = 'Create workspace';
    if (!disposed) refresh();
  }));
  refresh();
  return { dispose() { disposed = true; for (const c of cleanups) c(); } };
}
