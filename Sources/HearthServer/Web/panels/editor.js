// The editor: one CodeMirror, a tab per open file, save with the "unchanged since" guard, and
// the open tabs kept per workspace so that a reload brings them back.
import { $, el, listen, toast } from '../core/dom.js';
import { decodeTabs, encodeTabs, indentFor, modeFor } from '../core/text.js';

const EDITOR_MAX_BYTES = 2 * 1024 * 1024;

export function mount(root, ctx) {
  const cm = CodeMirror($('editor'), { lineNumbers: true, value: '', readOnly: 'nocursor' });
  let tabs = [], active = null, disposed = false;
  const storageKey = `hearth.tabs.${ctx.workspace.id}`;
  const cleanups = [];

  const persist = () => {
    if (disposed) return;
    try { localStorage.setItem(storageKey, encodeTabs(tabs.map((t) => t.path), active && active.path)); } catch (_) {}
  };

  function note(message, download, isError) {
    const n = $('editor-note');
    n.replaceChildren(message);
    if (download) n.append(el('a', { href: download, download: '' }, 'Download it instead.'));
    n.className = 'note' + (isError ? ' error' : '');
    n.hidden = false;
  }

  async function openFile(path, { focus = true, quiet = false } = {}) {
    const existing = tabs.find((t) => t.path === path);
    if (existing) return activate(existing, focus);
    let stat;
    try { stat = await ctx.api('GET', ctx.filesURL('stat', path)); } catch (err) { if (!ctx.gone(err) && !quiet) toast(err.message, true); return; }
    if (disposed) return;
    const download = ctx.filesURL('content', path, '&download=1');
    if (stat.size > EDITOR_MAX_BYTES) return note(`${path} is ${(stat.size / 1048576).toFixed(1)} MiB, too large to edit here. `, download);
    const response = await ctx.api('GET', ctx.filesURL('content', path), undefined, { raw: true }).catch((err) => { if (!quiet) toast(err.message, true); return null; });
    if (!response || disposed) return;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.subarray(0, 8000).includes(0)) return note(`${path} is a binary file. `, download);
    let text;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (_) { return note(`${path} is not UTF-8 text. `, download); }
    if (disposed || tabs.some((t) => t.path === path)) return;
    const tab = { path, doc: CodeMirror.Doc(text, modeFor(path)), indent: indentFor(path), mtime: stat.mtime, dirty: false, clean: null };
    tab.clean = tab.doc.changeGeneration();
    tabs.push(tab);
    activate(tab, focus);
  }

  function activate(tab, focus = true) {
    active = tab;
    $('editor-note').hidden = true;
    cm.swapDoc(tab.doc);
    cm.setOption('indentUnit', tab.indent);
    cm.setOption('tabSize', tab.indent);
    cm.setOption('readOnly', !ctx.canWrite);
    render();
    persist();
    if (focus) cm.focus();
  }

  function render() {
    const bar = $('editor-tabs');
    bar.replaceChildren();
    for (const tab of tabs) {
      const node = el('span', { class: 'tab' + (tab === active ? ' active' : ''), title: tab.path, 'data-path': tab.path }, tab.path.split('/').pop());
      if (tab.dirty) node.append(el('span', { class: 'dirty', title: 'unsaved' }, ' ●'));
      node.append(el('span', { class: 'x', title: 'Close', onclick: (e) => { e.stopPropagation(); closeTab(tab); } }, '×'));
      node.addEventListener('click', () => activate(tab));
      bar.append(node);
    }
    if (!tabs.length) { cm.swapDoc(CodeMirror.Doc('')); cm.setOption('readOnly', 'nocursor'); }
  }

  function closeTab(tab, force) {
    if (!tab) return;
    if (tab.dirty && !force && !confirm(`${tab.path} has unsaved changes. Close it anyway?`)) return;
    tabs = tabs.filter((t) => t !== tab);
    if (active === tab) active = null;
    if (tabs.length) activate(tabs[tabs.length - 1]); else { render(); persist(); }
  }

  function markDirty() {
    if (!active) return;
    const dirty = !active.doc.isClean(active.clean);
    if (dirty !== active.dirty) { active.dirty = dirty; render(); }
  }
  cm.on('change', markDirty);

  async function save(force) {
    const tab = active;
    if (!tab) return;
    const generation = tab.doc.changeGeneration();
    const guard = force ? '' : `&if_mtime=${tab.mtime}`;
    try {
      await ctx.api('PUT', ctx.filesURL('content', tab.path, guard), tab.doc.getValue());
    } catch (err) {
      if (err.status === 409) {
        const n = $('editor-note');
        n.replaceChildren(`${tab.path} changed on disk since you opened it. `,
          el('button', { onclick: () => { n.hidden = true; save(true); } }, 'Overwrite'), ' ',
          el('button', { onclick: () => { n.hidden = true; reload(tab); } }, 'Reload from disk'));
        n.className = 'note error';
        n.hidden = false;
        return;
      }
      return toast(err.message, true);
    }
    const stat = await ctx.api('GET', ctx.filesURL('stat', tab.path)).catch(() => null);
    if (stat) tab.mtime = stat.mtime;
    tab.clean = generation;
    markDirty();
    toast(`Saved ${tab.path}`);
    ctx.bus.dispatchEvent(new CustomEvent('files-changed'));
  }

  async function reload(tab) {
    tabs = tabs.filter((t) => t !== tab);
    await openFile(tab.path);
  }

  // A rename or delete in the file tree follows into the tabs.
  function moved(from, to) {
    for (const tab of tabs) {
      if (tab.path === from) tab.path = to;
      else if (tab.path.startsWith(from + '/')) tab.path = to + tab.path.slice(from.length);
    }
    render(); persist();
  }
  function removed(path) {
    for (const tab of tabs.filter((t) => t.path === path || t.path.startsWith(path + '/'))) closeTab(tab, true);
  }

  // Back to the tabs of the last visit, once the workspace runs (their files may be gone).
  let restored = false;
  async function restore() {
    if (restored) return;
    restored = true;
    let saved = { tabs: [], active: null };
    try { saved = decodeTabs(localStorage.getItem(storageKey)); } catch (_) {}
    for (const path of saved.tabs) await openFile(path, { focus: false, quiet: true });
    const again = tabs.find((t) => t.path === saved.active);
    if (again) activate(again, false);
    persist();
  }
  const onState = (e) => { if (e.detail === 'running') restore(); };
  cleanups.push(listen(ctx.bus, 'state', onState));
  if (ctx.workspace.state === 'running') restore();

  cleanups.push(ctx.commands.add('Save file', () => save(false), 'Ctrl+S'));
  cleanups.push(ctx.commands.add('Close editor tab', () => closeTab(active)));
  const dirtyGuard = (e) => { if (tabs.some((t) => t.dirty)) { e.preventDefault(); e.returnValue = ''; } };
  cleanups.push(listen(window, 'beforeunload', dirtyGuard));

  ctx.editor = { openFile, save, moved, removed, get activePath() { return active && active.path; }, get hasDirty() { return tabs.some((t) => t.dirty); } };
  return {
    dispose() {
      disposed = true;
      for (const c of cleanups) c();
      cm.getWrapperElement().remove();
      $('editor-tabs').replaceChildren();
      $('editor-note').hidden = true;
      ctx.editor = null;
    },
  };
}
