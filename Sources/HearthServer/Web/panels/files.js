// The file tree: expandable folders that stay expanded across refreshes, a context menu (rename,
// delete, new file or folder here) and inline inputs instead of prompt(). It refreshes itself
// when a terminal or the editor may have changed files.
import { $, el, listen, toast } from '../core/dom.js';
import { parentOf, workspacePath } from '../core/text.js';

const ROOT = '/workspace';

export function mount(root, ctx) {
  const tree = $('tree');
  const expanded = new Set();
  const cleanups = [];
  let disposed = false, refreshTimer = null, laterTimer = null;

  async function loadTree(ul, path) {
    let list;
    try { list = await ctx.api('GET', ctx.filesURL('list', path)); }
    catch (err) { if (!ctx.gone(err) && !disposed && path === ROOT) ul.replaceChildren(el('li', { class: 'muted' }, err.message)); return; }
    if (disposed) return;
    const entries = list.entries.filter((e) => e.name !== '.' && e.name !== '..')
      .sort((a, b) => (a.kind === 'directory') === (b.kind === 'directory') ? a.name.localeCompare(b.name) : a.kind === 'directory' ? -1 : 1);
    const items = [];
    for (const entry of entries) {
      const full = path.replace(/\/$/, '') + '/' + entry.name;
      const isDir = entry.kind === 'directory';
      const li = el('li', { class: isDir ? 'dir' : 'file', 'data-path': full });
      const label = el('span', { title: full, tabindex: '-1' }, entry.name);
      li.append(label);
      if (isDir) {
        const child = el('ul');
        li.append(child);
        label.addEventListener('click', () => {
          if (expanded.has(full)) { expanded.delete(full); li.classList.remove('open'); child.replaceChildren(); }
          else { expanded.add(full); li.classList.add('open'); loadTree(child, full); }
        });
        if (expanded.has(full)) { li.classList.add('open'); loadTree(child, full); }
      } else {
        label.addEventListener('click', () => ctx.editor && ctx.editor.openFile(full));
      }
      label.addEventListener('contextmenu', (e) => { e.preventDefault(); openMenu(e.clientX, e.clientY, full, isDir); });
      items.push(li);
    }
    if (items.length === 0) items.push(el('li', { class: 'muted' }, '(empty)'));
    ul.replaceChildren(...items);
  }

  // Not under an open inline input: that would take the user's typing away.
  const refresh = () => {
    if (tree.querySelector('.inline-input')) return soon();
    if (ctx.workspace.state === 'running') return loadTree(tree, ROOT);
  };

  // Something may have changed files: refresh soon, and once more a little later for a command
  // that takes a moment.
  function soon() {
    if (disposed) return;
    clearTimeout(refreshTimer); clearTimeout(laterTimer);
    refreshTimer = setTimeout(refresh, 700);
    laterTimer = setTimeout(() => { if (!tree.querySelector('.inline-input')) refresh(); }, 3000);
  }

  // ---- Context menu --------------------------------------------------------------------------
  const menu = $('context-menu');
  function closeMenu() { menu.hidden = true; menu.replaceChildren(); }
  function openMenu(x, y, path, isDir) {
    if (!ctx.canWrite) return;
    const item = (label, action, attrs = {}) => el('li', { role: 'menuitem', tabindex: '-1', 'data-action': attrs.action, onclick: (e) => { e.stopPropagation(); action(); } }, label);
    const base = isDir ? path : parentOf(path);
    menu.replaceChildren(
      item('Rename…', () => { closeMenu(); startRename(path); }, { action: 'rename' }),
      item('Delete', () => confirmDelete(path, isDir), { action: 'delete' }),
      item('New file here…', () => { closeMenu(); startCreate('file', base); }, { action: 'new-file' }),
      item('New folder here…', () => { closeMenu(); startCreate('folder', base); }, { action: 'new-folder' }));
    menu.dataset.path = path;
    menu.style.left = Math.min(x, window.innerWidth - 200) + 'px';
    menu.style.top = Math.min(y, window.innerHeight - 140) + 'px';
    menu.hidden = false;
    menu.firstChild.focus();
  }
  function confirmDelete(path, isDir) {
    menu.replaceChildren(el('li', { class: 'confirm' }, `Delete ${path.split('/').pop()}${isDir ? ' and everything in it' : ''}?`),
      el('li', { role: 'menuitem', class: 'danger', 'data-action': 'confirm-delete', onclick: (e) => { e.stopPropagation(); closeMenu(); remove(path, isDir); } }, 'Delete'),
      el('li', { role: 'menuitem', 'data-action': 'cancel', onclick: (e) => { e.stopPropagation(); closeMenu(); } }, 'Cancel'));
  }
  cleanups.push(listen(document, 'click', (e) => { if (!menu.hidden && !menu.contains(e.target)) closeMenu(); }));
  cleanups.push(listen(document, 'keydown', (e) => { if (e.key === 'Escape' && !menu.hidden) closeMenu(); }));

  async function remove(path, isDir) {
    try { await ctx.api('DELETE', `/v1/workspaces/${ctx.workspace.id}/files?path=${encodeURIComponent(path)}${isDir ? '&recursive=true' : ''}`); }
    catch (err) { return toast(err.message, true); }
    expanded.delete(path);
    if (ctx.editor) ctx.editor.removed(path);
    refresh();
  }

  // ---- Inline inputs -------------------------------------------------------------------------
  // One input at a time, in the tree: Enter commits, Escape or leaving it cancels.
  function inlineInput({ where, value, select, onCommit }) {
    const input = el('input', { class: 'inline-input', value, spellcheck: 'false', 'aria-label': 'name' });
    let done = false;
    const finish = async (commit) => {
      if (done) return;
      done = true;
      const text = input.value;
      input.remove();
      where.restore();
      if (commit) await onCommit(text);
    };
    input.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Enter') { e.preventDefault(); finish(true); } else if (e.key === 'Escape') { e.preventDefault(); finish(false); }
    });
    input.addEventListener('blur', () => finish(false));
    where.place(input);
    input.focus();
    if (select) input.setSelectionRange(select[0], select[1]); else input.select();
  }

  function startRename(path) {
    const li = tree.querySelector(`li[data-path="${CSS.escape(path)}"]`);
    const label = li && li.firstChild;
    if (!label) return;
    const name = path.split('/').pop();
    const dot = name.lastIndexOf('.');
    inlineInput({
      where: { place: (input) => { label.hidden = true; li.insertBefore(input, label); }, restore: () => { label.hidden = false; } },
      value: name, select: [0, dot > 0 ? dot : name.length],
      onCommit: async (text) => {
        const to = workspacePath(text, parentOf(path));
        if (!to || to === path) return;
        try { await ctx.api('POST', `/v1/workspaces/${ctx.workspace.id}/files/move`, { from: path, to }); } catch (err) { return toast(err.message, true); }
        if (expanded.delete(path)) expanded.add(to);
        if (ctx.editor) ctx.editor.moved(path, to);
        refresh();
      },
    });
  }

  function startCreate(kind, base = ROOT) {
    if (!ctx.canWrite || ctx.workspace.state !== 'running') return;
    const holder = el('li', { class: 'creating' });
    const container = base === ROOT ? tree : tree.querySelector(`li[data-path="${CSS.escape(base)}"] > ul`) || tree;
    inlineInput({
      where: { place: (input) => { holder.append(input); container.prepend(holder); }, restore: () => holder.remove() },
      value: kind === 'file' ? 'untitled.txt' : 'new-folder', select: null,
      onCommit: async (text) => {
        const full = workspacePath(text, base);
        if (!full) return;
        try {
          if (kind === 'file') await ctx.api('PUT', ctx.filesURL('content', full), '');
          else await ctx.api('POST', `/v1/workspaces/${ctx.workspace.id}/files/mkdir`, { path: full });
        } catch (err) { return toast(err.message, true); }
        for (let p = parentOf(full); p.startsWith(ROOT + '/'); p = parentOf(p)) expanded.add(p);
        await refresh();
        if (kind === 'file' && ctx.editor) ctx.editor.openFile(full);
      },
    });
  }

  const buttons = [['refresh-files', () => refresh()], ['new-file', () => startCreate('file')], ['new-folder', () => startCreate('folder')]];
  for (const [id, fn] of buttons) cleanups.push(listen($(id), 'click', fn));
  cleanups.push(listen(ctx.bus, 'files-changed', soon));
  cleanups.push(listen(window, 'focus', soon));
  cleanups.push(listen(ctx.bus, 'state', (e) => {
    if (e.detail === 'running') refresh();
    else tree.replaceChildren(el('li', { class: 'muted' }, `The workspace is ${e.detail}.`));
  }));
  cleanups.push(ctx.commands.add('New file…', () => startCreate('file')));
  cleanups.push(ctx.commands.add('New folder…', () => startCreate('folder')));
  cleanups.push(ctx.commands.add('Refresh files', () => refresh()));

  if (ctx.workspace.state === 'running') refresh(); else tree.replaceChildren(el('li', { class: 'muted' }, `The workspace is ${ctx.workspace.state}.`));
  ctx.files = { refresh };
  return {
    dispose() {
      disposed = true;
      clearTimeout(refreshTimer); clearTimeout(laterTimer);
      for (const c of cleanups) c();
      closeMenu();
      tree.replaceChildren();
      ctx.files = null;
    },
  };
}
