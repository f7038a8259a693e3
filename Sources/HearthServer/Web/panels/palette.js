// Quick open (Ctrl-P) and the command palette (Ctrl-Shift-P, or ">" in quick open). Keys are
// taken in the capture phase, before a terminal or the editor sees them, so Ctrl-P never reaches
// the shell.
import { $, el, listen, toast } from '../core/dom.js';
import { decodeExecOutput } from '../core/execstream.js';
import { fuzzy } from '../core/text.js';

const MAX_FILES = 20000;

export function mount(root, ctx) {
  const modal = $('quick-open');
  const input = $('quick-input');
  const results = $('quick-results');
  const cleanups = [];
  let files = null, selected = 0, shown = [], open = false;

  async function listAllFiles() {
    const response = await ctx.api('POST', `/v1/workspaces/${ctx.workspace.id}/exec`,
      { argv: ['find', '/workspace', '-type', 'f', '-not', '-path', '*/.git/*', '-not', '-path', '*/node_modules/*'], timeout_ms: 10000 }, { raw: true });
    const { stdout } = decodeExecOutput(new Uint8Array(await response.arrayBuffer()), { maxOutput: 4 << 20 });
    return stdout.split('\n').filter(Boolean).slice(0, MAX_FILES);
  }

  function render() {
    const q = input.value;
    if (q.startsWith('>')) {
      shown = ctx.commands.search(q.slice(1)).map((c) => ({ label: c.name, keys: c.keys, run: c.run, command: true }));
    } else {
      const lower = q.toLowerCase();
      shown = (files || []).filter((f) => fuzzy(f.toLowerCase(), lower)).slice(0, 50)
        .map((f) => ({ label: f.replace(/^\/workspace\//, ''), run: () => ctx.editor && ctx.editor.openFile(f) }));
    }
    selected = Math.min(selected, Math.max(0, shown.length - 1));
    const items = shown.map((item, i) => el('li', { class: i === selected ? 'sel' : '', 'data-command': item.command ? item.label : undefined,
      onclick: () => pick(item) }, item.label, item.keys ? el('span', { class: 'keys' }, item.keys) : null));
    if (!items.length) items.push(el('li', { class: 'muted' }, files === null && !q.startsWith('>') ? 'Listing files…' : 'No matches.'));
    results.replaceChildren(...items);
  }

  function pick(item) { close(); item.run(); }

  function close() {
    if (!open) return;
    open = false;
    modal.hidden = true;
  }

  async function show(prefix) {
    if (ctx.workspace.state !== 'running' && !prefix) prefix = '>';
    open = true;
    modal.hidden = false;
    input.value = prefix;
    input.placeholder = prefix ? 'Run a command…' : 'Go to file… (type > for commands)';
    selected = 0;
    input.focus();
    render();
    if (!prefix) {
      files = null;
      try { files = await listAllFiles(); } catch (err) { files = []; toast(err.message, true); }
      if (open) render();
    }
  }

  cleanups.push(listen(input, 'input', () => { selected = 0; render(); }));
  cleanups.push(listen(input, 'keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); close(); }
    else if (e.key === 'ArrowDown') { selected = Math.min(selected + 1, Math.max(0, shown.length - 1)); render(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { selected = Math.max(0, selected - 1); render(); e.preventDefault(); }
    // Enter is this input's: it must not reach the editor that the pick focuses.
    else if (e.key === 'Enter') { e.preventDefault(); e.stopPropagation(); if (shown[selected]) pick(shown[selected]); }
  }));
  cleanups.push(listen(modal, 'click', (e) => { if (e.target === modal) close(); }));
  cleanups.push(listen(document, 'keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (!mod || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === 's') { e.preventDefault(); e.stopPropagation(); if (ctx.editor) ctx.editor.save(false); }
    else if (key === 'p') { e.preventDefault(); e.stopPropagation(); show(e.shiftKey ? '>' : ''); }
  }, true));
  cleanups.push(ctx.commands.add('Go to file…', () => show(''), 'Ctrl+P'));

  return { dispose() { close(); for (const c of cleanups) c(); results.replaceChildren(); } };
}
