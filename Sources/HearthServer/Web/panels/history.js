// The workspace's history (issue 16): how old its last durable state is, its generations in the
// store, what each changed, and a changed file as that generation holds it, which a writer can put
// back. Read when the section is opened and on Refresh; "Sync now" commits at once. A writer can
// also fork a new workspace from a generation, or roll this one (stopped) back to it.
import { $, el, listen } from '../core/dom.js';
import { asText, diffLines, durability, generationRows } from '../core/history.js';

export function mount(root, ctx) {
  const pane = $('history-pane'), line = $('hist-durable'), list = $('hist-list'), diff = $('hist-diff');
  const file = $('hist-file'), actions = $('hist-file-actions'), errors = $('hist-errors');
  const cleanups = [];
  let disposed = false;
  let reading = null; // the AbortController of the file being read
  const base = `/v1/workspaces/${ctx.workspace.id}`;

  async function refresh() {
    if (disposed || !pane.open) return;
    errors.textContent = '';
    try {
      line.textContent = durability(await ctx.api('GET', base));
      const rows = generationRows(await ctx.api('GET', `${base}/generations`));
      list.replaceChildren(...(rows.length
        ? rows.map((row) => el('li', {}, el('button', { type: 'button', class: 'linkish', title: row.title, onclick: () => showDiff(row) }, row.label)))
        : [el('li', { class: 'muted' }, 'No generations yet.')]));
    } catch (err) {
      if (disposed) return;
      line.textContent = err.message;
      list.replaceChildren();
    }
  }

  async function showDiff(row) {
    file.textContent = '';
    diff.replaceChildren(el('li', { class: 'muted' }, `Generation ${row.generation}${row.previous ? ` against ${row.previous}` : ''}…`));
    try {
      // The first generation has nothing before it: its top directory is what it added.
      const lines = row.previous
        ? diffLines(await ctx.api('GET', `${base}/generations/${row.previous}/diff?to=${row.generation}`))
        : ((await ctx.api('GET', `${base}/generations/${row.generation}/files?path=/`)).entries || [])
          .map((e) => ({ text: `+ ${e.name}${e.kind === 'directory' ? '/' : ''}`, path: e.name, openable: e.kind === 'file' }));
      if (disposed) return;
      diff.replaceChildren(...generationActions(row.generation), ...(lines.length ? lines.map((l) => el('li', {}, l.openable
        ? el('button', { type: 'button', class: 'linkish', onclick: () => showFile(row.generation, l.path) }, l.text)
        : l.text)) : [el('li', { class: 'muted' }, 'Nothing changed.')]));
    } catch (err) {
      if (!disposed) diff.replaceChildren(el('li', { class: 'net-errors' }, err.message));
    }
  }

  /// The whole-workspace actions on one generation, for writers.
  function generationActions(generation) {
    if (!ctx.canWrite) return [];
    return [el('li', { class: 'row' },
      el('button', { type: 'button', id: 'hist-fork', title: 'A new workspace whose state starts as this generation', onclick: () => fork(generation) },
        `Fork from ${generation}`),
      el('button', { type: 'button', id: 'hist-rollback', title: 'Put this (stopped) workspace back as this generation holds it; history is kept',
        onclick: () => rollback(generation) }, `Roll back to ${generation}`))];
  }

  async function fork(generation) {
    try {
      const forked = await ctx.api('POST', `${base}/fork`, { generation });
      ctx.toast(`Forked generation ${generation} as ${forked.name}.`);
      location.hash = '#/w/' + encodeURIComponent(forked.id);
    } catch (err) { ctx.toast(err.message, true); }
  }

  async function rollback(generation) {
    try {
      const result = await ctx.api('POST', `${base}/rollback`, { generation });
      ctx.toast(`Rolled back to generation ${generation}, saved as generation ${result.generation}. Start the workspace to use it.`);
      await refresh();
    } catch (err) { ctx.toast(err.message, true); }
  }

  async function showFile(generation, path) {
    reading?.abort();
    reading = new AbortController();
    actions.replaceChildren();
    file.textContent = `${path} at generation ${generation}…`;
    try {
      const response = await ctx.api('GET', `${base}/generations/${generation}/content?path=${encodeURIComponent(path)}`, undefined,
        { raw: true, signal: reading.signal });
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (disposed) return;
      file.textContent = asText(bytes) ?? `${path} is not text.`;
      if (ctx.canWrite) {
        actions.replaceChildren(el('span', { class: 'muted' }, `/${path} · generation ${generation}`), el('span', { class: 'spacer' }),
          el('button', { type: 'button', id: 'hist-restore', onclick: () => restore(generation, path) }, 'Restore this version'));
      }
    } catch (err) {
      if (!disposed && err.name !== 'AbortError') file.textContent = err.message;
    }
  }

  /// Puts the file back, with its mode, as the generation held it (the server reads it from the
  /// store and writes it through the agent).
  async function restore(generation, path) {
    try {
      await ctx.api('POST', `${base}/generations/${generation}/restore`, { path: '/' + path });
      ctx.toast(`Restored /${path} from generation ${generation}.`);
    } catch (err) { ctx.toast(err.message, true); }
  }

  async function syncNow() {
    errors.textContent = '';
    try {
      const result = await ctx.api('POST', `${base}/sync`);
      ctx.toast(result.published ? `Saved as generation ${result.generation}.` : `Nothing changed since generation ${result.generation}.`);
      await refresh();
    } catch (err) { errors.textContent = err.message; }
  }

  cleanups.push(listen(pane, 'toggle', refresh));
  cleanups.push(listen($('hist-refresh'), 'click', refresh));
  cleanups.push(listen($('hist-sync'), 'click', syncNow));
  $('hist-sync').hidden = !ctx.canWrite;
  refresh();
  return {
    dispose() {
      disposed = true;
      reading?.abort();
      for (const c of cleanups) c();
      for (const node of [list, diff, actions]) node.replaceChildren();
      for (const node of [line, file, errors]) node.textContent = '';
    },
  };
}
