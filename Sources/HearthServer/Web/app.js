// Hearth's web IDE. Plain JavaScript, no build step: xterm.js 3 and CodeMirror 5 come from Debian.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { session: null, workspace: null, tabs: [], active: null, terminals: new Map(), activeTerm: null, socket: null };
const EDITOR_MAX_BYTES = 2 * 1024 * 1024;

// ---- API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body, opts = {}) {
  const headers = {};
  if (state.session && state.session.csrf && method !== 'GET') headers['X-CSRF-Token'] = state.session.csrf;
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (!response.ok) {
    let code = 'http_' + response.status, message = response.statusText;
    try { const e = (await response.json()).error; code = e.code; message = e.message; } catch (_) {}
    if (response.status === 401 && !opts.quiet) { showLogin(message); }
    throw new ApiError(response.status, code, message);
  }
  if (opts.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  return type.includes('json') ? response.json() : response.text();
}

function toast(message, isError) {
  const t = $('toast');
  t.textContent = message;
  t.className = isError ? 'error' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 8000 : 3000);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- Views and routing -------------------------------------------------------------------------

function show(view) {
  for (const v of ['login-view', 'list-view', 'ws-view']) $(v).hidden = v !== view;
}

function showLogin(message) {
  state.session = null;
  $('who').textContent = '';
  $('signout').hidden = true;
  $('crumb').textContent = '';
  closeWorkspace();
  show('login-view');
  $('login-error').textContent = message && message !== 'a valid bearer token is required' ? message : '';
  $('login-email').focus();
}

async function route() {
  if (!state.session) {
    try { state.session = await api('GET', '/v1/session', undefined, { quiet: true }); } catch (_) { return showLogin(); }
    $('who').textContent = `${state.session.user} · ${state.session.tenant} · ${state.session.role}`;
    $('signout').hidden = false;
  }
  const match = location.hash.match(/^#\/w\/([^/]+)/);
  if (match) return openWorkspace(decodeURIComponent(match[1]));
  closeWorkspace();
  show('list-view');
  $('crumb').textContent = '';
  await refreshList();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    state.session = await api('POST', '/v1/session', { email: $('login-email').value, password: $('login-password').value }, { quiet: true });
    $('login-password').value = '';
    $('who').textContent = `${state.session.user} · ${state.session.tenant} · ${state.session.role}`;
    $('signout').hidden = false;
    route();
  } catch (err) { $('login-error').textContent = err.message; }
});

$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch (_) {}
  location.hash = '#/';
  showLogin();
});

$('theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('hearth.theme', next);
  for (const t of state.terminals.values()) t.term.setOption('theme', terminalTheme());
});

// ---- Workspace list ---------------------------------------------------------------------------

async function refreshList() {
  const body = $('workspaces').tBodies[0];
  let list;
  try { list = (await api('GET', '/v1/workspaces')).workspaces; } catch (err) { return toast(err.message, true); }
  body.replaceChildren();
  if (list.length === 0) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No workspaces yet.')));
  const writer = state.session.role !== 'viewer';
  for (const w of list) {
    const actions = el('td');
    actions.append(el('button', { onclick: () => { location.hash = '#/w/' + encodeURIComponent(w.id); } }, 'Open'));
    if (writer) {
      if (w.state === 'running') actions.append(el('button', { onclick: () => lifecycle(w.id, 'pause') }, 'Pause'));
      if (w.state === 'paused') actions.append(el('button', { onclick: () => lifecycle(w.id, 'resume') }, 'Resume'));
      if (w.state === 'stopped' || w.state === 'failed') actions.append(el('button', { onclick: () => lifecycle(w.id, 'start') }, 'Start'));
      actions.append(el('button', { onclick: () => { if (confirm(`Delete ${w.name}? Its files are lost.`)) lifecycle(w.id, 'delete'); } }, 'Delete'));
    }
    body.append(el('tr', { 'data-id': w.id, 'data-name': w.name },
      el('td', {}, w.name), el('td', {}, el('span', { class: 'state-' + w.state }, w.state)), el('td', {}, w.runtime),
      el('td', { title: w.image }, imageLabel(w.image)), el('td', {}, new Date(w.created_at).toLocaleString()), actions));
  }
  $('create-form').hidden = !writer;
}

// A digest means nothing to a person: show a name when there is one, else a short digest.
function imageLabel(image) {
  if (!image) return '';
  if (image.startsWith('sha256:')) return 'image ' + image.slice(7, 19);
  return image;
}

async function lifecycle(id, verb) {
  try {
    if (verb === 'delete') await api('DELETE', `/v1/workspaces/${id}`); else await api('POST', `/v1/workspaces/${id}/${verb}`);
  } catch (err) { toast(err.message, true); }
  refreshList();
}

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const button = $('create-submit');
  button.disabled = true;
  button.textContent = 'Creating…';
  try {
    const name = $('create-name').value.trim();
    await api('POST', '/v1/workspaces', name ? { name } : {});
    $('create-name').value = '';
  } catch (err) { toast(err.message, true); }
  button.disabled = false;
  button.textContent = 'Create workspace';
  refreshList();
});

// ---- Workspace page ---------------------------------------------------------------------------

async function openWorkspace(id) {
  if (state.workspace && state.workspace.id === id) return;
  closeWorkspace();
  let w;
  try { w = await api('GET', `/v1/workspaces/${id}`); } catch (err) { toast(err.message, true); location.hash = '#/'; return; }
  state.workspace = w;
  $('crumb').textContent = `/ ${w.name} (${w.runtime}, ${w.state})`;
  show('ws-view');
  if (!state.editor) {
    state.editor = CodeMirror($('editor'), { lineNumbers: true, value: '', readOnly: 'nocursor' });
    state.editor.on('change', () => markDirty());
  }
  if (w.state !== 'running') { $('tree').replaceChildren(el('li', { class: 'muted' }, `The workspace is ${w.state}.`)); return; }
  loadTree($('tree'), '/workspace');
  refreshPorts();
  connectTerminals();
  state.portTimer = setInterval(refreshPorts, 5000);
}

function closeWorkspace() {
  if (!state.workspace) return;
  state.workspace = null;
  clearInterval(state.portTimer);
  if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
  for (const t of state.terminals.values()) { t.term.destroy(); t.node.remove(); }
  state.terminals.clear();
  // Terminal ids restart per workspace: a stale active id would leave the first terminal hidden.
  state.activeTerm = null;
  $('term-tabs').replaceChildren();
  state.tabs = []; state.active = null;
  renderTabs();
}

function workspaceGone(err) {
  if (err && err.status === 404 && state.workspace) {
    toast('This workspace was deleted.', true);
    closeWorkspace();
    location.hash = '#/';
    return true;
  }
  return false;
}

const filesURL = (what, path, extra = '') => `/v1/workspaces/${state.workspace.id}/files/${what}?path=${encodeURIComponent(path)}${extra}`;

// ---- File tree --------------------------------------------------------------------------------

async function loadTree(ul, path) {
  let list;
  try { list = await api('GET', filesURL('list', path)); } catch (err) { if (!workspaceGone(err)) toast(err.message, true); return; }
  ul.replaceChildren();
  const entries = list.entries.filter((e) => e.name !== '.' && e.name !== '..')
    .sort((a, b) => (a.kind === 'directory') === (b.kind === 'directory') ? a.name.localeCompare(b.name) : a.kind === 'directory' ? -1 : 1);
  for (const entry of entries) {
    const full = path.replace(/\/$/, '') + '/' + entry.name;
    const li = el('li', { class: entry.kind === 'directory' ? 'dir' : 'file', 'data-path': full });
    const label = el('span', { title: full }, entry.name);
    li.append(label);
    if (entry.kind === 'directory') {
      const child = el('ul');
      li.append(child);
      label.addEventListener('click', () => {
        li.classList.toggle('open');
        if (li.classList.contains('open')) loadTree(child, full); else child.replaceChildren();
      });
    } else {
      label.addEventListener('click', () => openFile(full));
    }
    label.addEventListener('contextmenu', (e) => { e.preventDefault(); fileMenu(full, entry); });
    ul.append(li);
  }
  if (entries.length === 0) ul.append(el('li', { class: 'muted' }, '(empty)'));
}

async function fileMenu(path, entry) {
  const choice = prompt(`${path}\nType "rename" or "delete":`, 'rename');
  if (choice === 'rename') {
    const to = prompt('New path:', path);
    if (!to || to === path) return;
    try { await api('POST', `/v1/workspaces/${state.workspace.id}/files/move`, { from: path, to }); } catch (err) { return toast(err.message, true); }
    for (const tab of state.tabs) if (tab.path === path) { tab.path = to; }
    renderTabs();
  } else if (choice === 'delete') {
    if (!confirm(`Delete ${path}?`)) return;
    try { await api('DELETE', filesURL('', path, entry.kind === 'directory' ? '&recursive=true' : '').replace('/files/?', '/files?')); }
    catch (err) { return toast(err.message, true); }
    const tab = state.tabs.find((t) => t.path === path);
    if (tab) closeTab(tab, true);
  }
  loadTree($('tree'), '/workspace');
}

$('refresh-files').addEventListener('click', () => loadTree($('tree'), '/workspace'));
$('new-file').addEventListener('click', async () => {
  const path = prompt('New file (relative to /workspace):', 'untitled.txt');
  if (!path) return;
  const full = path.startsWith('/') ? path : '/workspace/' + path;
  try { await api('PUT', filesURL('content', full), ''); } catch (err) { return toast(err.message, true); }
  await loadTree($('tree'), '/workspace');
  openFile(full);
});
$('new-folder').addEventListener('click', async () => {
  const path = prompt('New folder (relative to /workspace):', 'src');
  if (!path) return;
  try { await api('POST', `/v1/workspaces/${state.workspace.id}/files/mkdir`, { path }); } catch (err) { return toast(err.message, true); }
  loadTree($('tree'), '/workspace');
});

// ---- Editor -----------------------------------------------------------------------------------

const MODES = { js: 'javascript', mjs: 'javascript', json: { name: 'javascript', json: true }, ts: 'text/typescript', py: 'python',
  sh: 'shell', bash: 'shell', md: 'markdown', css: 'css', html: 'htmlmixed', htm: 'htmlmixed', xml: 'xml', svg: 'xml',
  c: 'text/x-csrc', h: 'text/x-csrc', cc: 'text/x-c++src', cpp: 'text/x-c++src', java: 'text/x-java', swift: 'text/x-swift',
  go: 'go', rs: 'rust', yml: 'yaml', yaml: 'yaml', kt: 'text/x-kotlin', cs: 'text/x-csharp' };

function modeFor(path) {
  const name = path.split('/').pop();
  if (name === 'Dockerfile' || name === 'Makefile') return 'shell';
  return MODES[name.includes('.') ? name.split('.').pop().toLowerCase() : ''] || null;
}

async function openFile(path) {
  const existing = state.tabs.find((t) => t.path === path);
  if (existing) return activate(existing);
  let stat;
  try { stat = await api('GET', filesURL('stat', path)); } catch (err) { if (!workspaceGone(err)) toast(err.message, true); return; }
  const download = filesURL('content', path, '&download=1');
  if (stat.size > EDITOR_MAX_BYTES) {
    return note(`${path} is ${(stat.size / 1048576).toFixed(1)} MiB, too large to edit here. `, download);
  }
  const response = await api('GET', filesURL('content', path), undefined, { raw: true }).catch((err) => { toast(err.message, true); return null; });
  if (!response) return;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.subarray(0, 8000).includes(0)) return note(`${path} is a binary file. `, download);
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (_) { return note(`${path} is not UTF-8 text. `, download); }
  const tab = { path, doc: CodeMirror.Doc(text, modeFor(path)), indent: modeFor(path) === 'python' ? 4 : 2, mtime: stat.mtime, dirty: false, clean: null };
  tab.clean = tab.doc.changeGeneration();
  state.tabs.push(tab);
  activate(tab);
}

function note(message, download) {
  const n = $('editor-note');
  n.replaceChildren(message);
  if (download) n.append(el('a', { href: download, download: '' }, 'Download it instead.'));
  n.className = 'note';
  n.hidden = false;
}

function activate(tab) {
  state.active = tab;
  $('editor-note').hidden = true;
  state.editor.swapDoc(tab.doc);
  state.editor.setOption('indentUnit', tab.indent || 2);
  state.editor.setOption('readOnly', state.session.role === 'viewer');
  renderTabs();
  state.editor.focus();
}

function renderTabs() {
  const bar = $('editor-tabs');
  bar.replaceChildren();
  for (const tab of state.tabs) {
    const node = el('span', { class: 'tab' + (tab === state.active ? ' active' : ''), title: tab.path, 'data-path': tab.path },
      tab.path.split('/').pop());
    if (tab.dirty) node.append(el('span', { class: 'dirty', title: 'unsaved' }, ' ●'));
    node.append(el('span', { class: 'x', title: 'Close', onclick: (e) => { e.stopPropagation(); closeTab(tab); } }, '×'));
    node.addEventListener('click', () => activate(tab));
    bar.append(node);
  }
  if (!state.tabs.length && state.editor) { state.editor.swapDoc(CodeMirror.Doc('')); state.editor.setOption('readOnly', 'nocursor'); }
}

function closeTab(tab, force) {
  if (tab.dirty && !force && !confirm(`${tab.path} has unsaved changes. Close it anyway?`)) return;
  state.tabs = state.tabs.filter((t) => t !== tab);
  if (state.active === tab) state.active = null;
  if (state.tabs.length) activate(state.tabs[state.tabs.length - 1]); else renderTabs();
}

function markDirty() {
  const tab = state.active;
  if (!tab) return;
  const dirty = !tab.doc.isClean(tab.clean);
  if (dirty !== tab.dirty) { tab.dirty = dirty; renderTabs(); }
}

async function save(force) {
  const tab = state.active;
  if (!tab) return;
  const generation = tab.doc.changeGeneration();
  const guard = force ? '' : `&if_mtime=${tab.mtime}`;
  try {
    await api('PUT', filesURL('content', tab.path, guard), tab.doc.getValue());
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
  const stat = await api('GET', filesURL('stat', tab.path)).catch(() => null);
  if (stat) tab.mtime = stat.mtime;
  tab.clean = generation;
  markDirty();
  toast(`Saved ${tab.path}`);
}

async function reload(tab) {
  state.tabs = state.tabs.filter((t) => t !== tab);
  await openFile(tab.path);
}

// ---- Quick open -------------------------------------------------------------------------------

async function listAllFiles() {
  // One exec of find; the exec stream is frames of [kind u8][length u32 BE][payload].
  const response = await api('POST', `/v1/workspaces/${state.workspace.id}/exec`,
    { argv: ['find', '/workspace', '-type', 'f', '-not', '-path', '*/.git/*', '-not', '-path', '*/node_modules/*'], timeout_ms: 10000 }, { raw: true });
  const bytes = new Uint8Array(await response.arrayBuffer());
  let out = '', offset = 0;
  const decoder = new TextDecoder();
  while (offset + 5 <= bytes.length) {
    const kind = bytes[offset];
    const length = new DataView(bytes.buffer, offset + 1, 4).getUint32(0);
    if (kind === 1) out += decoder.decode(bytes.subarray(offset + 5, offset + 5 + length), { stream: true });
    offset += 5 + length;
  }
  return out.split('\n').filter(Boolean).slice(0, 20000);
}

async function quickOpen() {
  if (!state.workspace) return;
  const modal = $('quick-open');
  modal.hidden = false;
  const input = $('quick-input');
  input.value = '';
  input.focus();
  let files = [];
  try { files = await listAllFiles(); } catch (err) { toast(err.message, true); }
  let selected = 0, shown = [];
  const render = () => {
    const q = input.value.toLowerCase();
    shown = files.filter((f) => fuzzy(f.toLowerCase(), q)).slice(0, 50);
    selected = Math.min(selected, Math.max(0, shown.length - 1));
    $('quick-results').replaceChildren(...shown.map((f, i) =>
      el('li', { class: i === selected ? 'sel' : '', onclick: () => pick(f) }, f.replace(/^\/workspace\//, ''))));
  };
  const pick = (f) => { close(); openFile(f); };
  const close = () => { modal.hidden = true; input.oninput = input.onkeydown = null; };
  input.oninput = () => { selected = 0; render(); };
  input.onkeydown = (e) => {
    if (e.key === 'Escape') close();
    else if (e.key === 'ArrowDown') { selected++; render(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { selected = Math.max(0, selected - 1); render(); e.preventDefault(); }
    else if (e.key === 'Enter') { e.preventDefault(); if (shown[selected]) pick(shown[selected]); }
  };
  modal.onclick = (e) => { if (e.target === modal) close(); };
  render();
}

function fuzzy(text, query) {
  let i = 0;
  for (const c of query) { i = text.indexOf(c, i); if (i < 0) return false; i++; }
  return true;
}

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  // Captured before xterm or CodeMirror see the key, so a terminal does not send it to the shell.
  if (mod && e.key.toLowerCase() === 's' && state.workspace) { e.preventDefault(); e.stopPropagation(); save(false); }
  if (mod && e.key.toLowerCase() === 'p' && state.workspace) { e.preventDefault(); e.stopPropagation(); quickOpen(); }
}, true);

// ---- Terminals: one multiplexed WebSocket per workspace ----------------------------------------

function terminalTheme() {
  return document.documentElement.dataset.theme === 'light'
    ? { background: '#ffffff', foreground: '#1f2328', cursor: '#1f2328', selection: 'rgba(0,0,0,0.2)' }
    : { background: '#000000', foreground: '#e3e6ea', cursor: '#e3e6ea' };
}

function connectTerminals() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${proto}//${location.host}/v1/workspaces/${state.workspace.id}/ws`);
  socket.binaryType = 'arraybuffer';
  state.socket = socket;
  const send = (m) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(m)); };
  state.send = send;
  socket.onopen = () => { send({ type: 'list' }); };
  socket.onmessage = (event) => {
    if (typeof event.data !== 'string') {
      const view = new DataView(event.data);
      const id = view.getUint32(0);
      const t = state.terminals.get(id);
      if (!t) return;
      const bytes = new Uint8Array(event.data, 4);
      t.term.write(t.decoder.decode(bytes, { stream: true }));
      // Acknowledge once drawn is queued; the server stops reading the PTY past its window.
      send({ type: 'ack', id, bytes: bytes.length });
      return;
    }
    const m = JSON.parse(event.data);
    if (m.type === 'terminals') {
      if (m.terminals.length === 0 && state.session.role !== 'viewer') send({ type: 'open', ...termSize() });
      for (const { id, readOnly } of m.terminals) { addTerminal(id, readOnly); send({ type: 'attach', id }); }
    } else if (m.type === 'opened') {
      addTerminal(m.id);
      selectTerminal(m.id);
      syncSize(state.terminals.get(m.id));
    } else if (m.type === 'attached') {
      const t = state.terminals.get(m.id);
      if (t) { t.readOnly = !!m.readOnly; t.term.reset(); t.decoder = new TextDecoder(); syncSize(t); }
    } else if (m.type === 'exit') {
      const t = state.terminals.get(m.id);
      if (t) { t.term.write(`\r\n\x1b[90m[process exited${m.code !== undefined ? ' with code ' + m.code : ''}${m.message ? ': ' + m.message : ''}]\x1b[0m\r\n`); t.exited = true; }
    } else if (m.type === 'detached') {
      // The owner stopped sharing it.
      const t = state.terminals.get(m.id);
      if (t) { t.term.write('\r\n\x1b[90m[no longer shared]\x1b[0m\r\n'); t.exited = true; }
    } else if (m.type === 'workspace') {
      // The workspace changed state (paused from the CLI, say): say so, and once it runs again
      // let go of the shells the pause ended and pick up (or open) the live ones.
      state.workspace.state = m.state;
      $('crumb').textContent = `/ ${state.workspace.name} (${state.workspace.runtime}, ${m.state})`;
      for (const t of state.terminals.values()) t.term.write(`\r\n\x1b[90m[workspace ${m.state}]\x1b[0m\r\n`);
      if (m.state === 'running') {
        for (const [id, t] of [...state.terminals]) if (t.exited) closeTerminal(id);
        send({ type: 'list' });
      }
    } else if (m.type === 'error') {
      if (m.code === 'not_found' && m.id === undefined) { workspaceGone({ status: 404 }); return; }
      toast(m.message, true);
    }
  };
  socket.onclose = () => {
    if (state.socket !== socket || !state.workspace) return;
    // Dropped: the terminals live on in the workspace; reconnect and replay their scrollback.
    setTimeout(() => { if (state.socket === socket && state.workspace) connectTerminals(); }, 1000);
  };
}

function termSize() {
  const t = state.terminals.get(state.activeTerm);
  return t ? { cols: t.term.cols, rows: t.term.rows } : { cols: 100, rows: 24 };
}

function addTerminal(id, readOnly = false) {
  if (state.terminals.has(id)) return;
  const node = el('div', { class: 'term', 'data-id': id });
  $('terminals').append(node);
  const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'monospace', theme: terminalTheme(), scrollback: 5000 });
  term.open(node);
  // A terminal shared read-only by its owner shows output only: no input, no resize.
  const t = { id, term, node, decoder: new TextDecoder(), exited: false, readOnly };
  state.terminals.set(id, t);
  term.on('data', (data) => { if (!t.exited && !t.readOnly) state.send({ type: 'input', id, data }); });
  term.on('resize', ({ cols, rows }) => { if (state.session.role !== 'viewer' && !t.readOnly) state.send({ type: 'resize', id, cols, rows }); });
  const tab = el('span', { class: 'tab', 'data-term': id }, `Terminal ${id}`,
    el('span', { class: 'x', title: 'Close terminal', onclick: (e) => { e.stopPropagation(); closeTerminal(id); } }, '×'));
  tab.addEventListener('click', () => selectTerminal(id));
  $('term-tabs').append(tab);
  if (state.activeTerm === null || !state.terminals.has(state.activeTerm)) selectTerminal(id); else node.style.visibility = 'hidden';
}

function selectTerminal(id) {
  state.activeTerm = id;
  for (const t of state.terminals.values()) t.node.style.visibility = t.id === id ? 'visible' : 'hidden';
  for (const tab of $('term-tabs').children) tab.classList.toggle('active', Number(tab.dataset.term) === id);
  const t = state.terminals.get(id);
  if (t) { fitTerminal(t); t.term.focus(); }
}

function fitTerminal(t) {
  try { t.term.fit(); } catch (_) {}
}

// A terminal fitted before the server attached it has sent its size too early; send it again.
function syncSize(t) {
  if (!t || t.readOnly || state.session.role === 'viewer') return;
  fitTerminal(t);
  state.send({ type: 'resize', id: t.id, cols: t.term.cols, rows: t.term.rows });
}

function closeTerminal(id) {
  const t = state.terminals.get(id);
  if (!t) return;
  state.send({ type: 'close', id });
  t.term.destroy(); t.node.remove();
  state.terminals.delete(id);
  const tab = $('term-tabs').querySelector(`[data-term="${id}"]`);
  if (tab) tab.remove();
  const next = [...state.terminals.keys()].pop();
  state.activeTerm = null;
  if (next !== undefined) selectTerminal(next);
}

$('new-term').addEventListener('click', () => state.send && state.send({ type: 'open', ...termSize() }));
// The pane changes size with the window, and also once fonts load and the layout settles.
new ResizeObserver(() => { const t = state.terminals.get(state.activeTerm); if (t) fitTerminal(t); }).observe($('terminals'));

// ---- Ports ------------------------------------------------------------------------------------

async function refreshPorts() {
  if (!state.workspace) return;
  let ports;
  try { ports = (await api('GET', `/v1/workspaces/${state.workspace.id}/ports`)).ports; }
  catch (err) {
    if (!workspaceGone(err)) { $('port-list').dataset.key = ''; $('port-list').replaceChildren(el('li', { class: 'muted' }, err.message)); }
    return;
  }
  const unique = [...new Map(ports.map((p) => [p.port, p])).values()].sort((a, b) => a.port - b.port);
  // Redraw only on a change, so an Open button is not replaced under the pointer.
  const key = unique.map((p) => p.port).join(',') || '-';
  if ($('port-list').dataset.key === key) return;
  $('port-list').dataset.key = key;
  $('port-list').replaceChildren(...(unique.length ? unique.map((p) => el('li', { 'data-port': p.port }, el('span', {}, `${p.port}`),
    el('a', { href: `/w/${state.workspace.id}/p/${p.port}/`, target: '_blank', rel: 'noopener' }, el('button', {}, 'Open')))) :
    [el('li', { class: 'muted' }, 'Nothing is listening.')]));
}
$('refresh-ports').addEventListener('click', refreshPorts);

// For tests and screen readers: the text of a terminal's screen and scrollback.
window.hearthTerminalText = (id) => {
  const t = state.terminals.get(id === undefined ? state.activeTerm : id);
  if (!t) return '';
  const buffer = t.term._core.buffer;
  const lines = [];
  for (let y = 0; y < buffer.lines.length; y++) lines.push(buffer.translateBufferLineToString(y, true));
  return lines.join('\n');
};

window.hearthTerminalSize = (id) => {
  const t = state.terminals.get(id === undefined ? state.activeTerm : id);
  return t ? { cols: t.term.cols, rows: t.term.rows } : null;
};

// ---- Start ------------------------------------------------------------------------------------

document.documentElement.dataset.theme = localStorage.getItem('hearth.theme') || 'dark';
window.addEventListener('hashchange', route);
window.addEventListener('beforeunload', (e) => { if (state.tabs.some((t) => t.dirty)) { e.preventDefault(); e.returnValue = ''; } });
route();
