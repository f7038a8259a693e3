// Terminals: one multiplexed WebSocket per workspace that reconnects by itself. The shells are
// detachable on the server, so a reload, a dropped connection or a pause finds the same ones
// again and replays their scrollback. The socket also tells the page each state its workspace
// enters.
import { $, el, listen } from '../core/dom.js';
import { ResumableSocket } from '../core/reconnect.js';

export function terminalTheme() {
  return document.documentElement.dataset.theme === 'light'
    ? { background: '#ffffff', foreground: '#1f2328', cursor: '#1f2328', selection: 'rgba(0,0,0,0.2)' }
    : { background: '#000000', foreground: '#e3e6ea', cursor: '#e3e6ea' };
}

export function mount(root, ctx) {
  const terminals = new Map();
  const cleanups = [];
  let activeTerm = null;
  const viewer = !ctx.canWrite;
  const send = (m) => socket.send(m);

  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new ResumableSocket(`${proto}//${location.host}/v1/workspaces/${ctx.workspace.id}/ws`, {
    onopen: () => { if (ctx.workspace.state === 'running') send({ type: 'list' }); },
    onmessage: (event) => receive(event),
  });

  function receive(event) {
    if (typeof event.data !== 'string') {
      if (event.data.byteLength < 4) return;
      const id = new DataView(event.data).getUint32(0);
      const t = terminals.get(id);
      if (!t) return;
      const bytes = new Uint8Array(event.data, 4);
      t.term.write(t.decoder.decode(bytes, { stream: true }));
      // Acknowledge once the write is queued; the server stops reading the PTY past its window.
      send({ type: 'ack', id, bytes: bytes.length });
      return;
    }
    let m;
    try { m = JSON.parse(event.data); } catch (_) { return; }
    if (m.type === 'terminals') {
      const live = new Set(m.terminals.map((t) => t.id));
      // A shell the server no longer has (it ended while we were away) goes too.
      for (const id of [...terminals.keys()]) if (!live.has(id)) drop(id);
      if (m.terminals.length === 0 && !viewer) send({ type: 'open', ...termSize() });
      for (const { id, readOnly } of m.terminals) { add(id, readOnly); send({ type: 'attach', id }); }
    } else if (m.type === 'opened') {
      add(m.id);
      select(m.id);
      syncSize(terminals.get(m.id));
    } else if (m.type === 'attached') {
      const t = terminals.get(m.id);
      if (t) { t.readOnly = !!m.readOnly; t.exited = false; t.term.reset(); t.decoder = new TextDecoder(); syncSize(t); }
    } else if (m.type === 'exit') {
      const t = terminals.get(m.id);
      if (t) { t.term.write(`\r\n\x1b[90m[process exited${m.code !== undefined ? ' with code ' + m.code : ''}${m.message ? ': ' + m.message : ''}]\x1b[0m\r\n`); t.exited = true; }
    } else if (m.type === 'detached') {
      const t = terminals.get(m.id);
      if (t) { t.term.write('\r\n\x1b[90m[no longer shared]\x1b[0m\r\n'); t.exited = true; }
    } else if (m.type === 'workspace') {
      ctx.setState(m.state);
    } else if (m.type === 'error') {
      if (m.code === 'not_found' && m.id === undefined) { ctx.gone({ status: 404 }); return; }
      ctx.toast(m.message, true);
    }
  }

  // The pause ended the connection to each shell, not the shell: once the workspace runs again,
  // list and attach them again, in the same tabs.
  cleanups.push(listen(ctx.bus, 'state', (e) => {
    const state = e.detail;
    for (const t of terminals.values()) t.term.write(`\r\n\x1b[90m[workspace ${state}]\x1b[0m\r\n`);
    if (state === 'running') send({ type: 'list' });
  }));

  function termSize() {
    const t = terminals.get(activeTerm);
    return t ? { cols: t.term.cols, rows: t.term.rows } : { cols: 100, rows: 24 };
  }

  function add(id, readOnly = false) {
    if (terminals.has(id)) return;
    const node = el('div', { class: 'term', 'data-id': id });
    node.style.visibility = 'hidden';
    $('terminals').append(node);
    const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'monospace', theme: terminalTheme(), scrollback: 5000 });
    term.open(node);
    // A terminal shared read-only by its owner shows output only: no input, no resize.
    const t = { id, term, node, decoder: new TextDecoder(), exited: false, readOnly };
    terminals.set(id, t);
    term.on('data', (data) => {
      if (t.exited || t.readOnly) return;
      send({ type: 'input', id, data });
      // A command may have changed files: the tree follows.
      // (Enter arrives as CR from a keyboard, and as LF from some input methods and drivers.)
      if (/[\r\n]/.test(data)) ctx.bus.dispatchEvent(new CustomEvent('files-changed'));
    });
    term.on('resize', ({ cols, rows }) => { if (!viewer && !t.readOnly) send({ type: 'resize', id, cols, rows }); });
    const tab = el('span', { class: 'tab', 'data-term': id }, `Terminal ${id}`,
      el('span', { class: 'x', title: 'Close terminal', onclick: (e) => { e.stopPropagation(); close(id); } }, '×'));
    tab.addEventListener('click', () => select(id));
    $('term-tabs').append(tab);
    if (activeTerm === null || !terminals.has(activeTerm)) select(id);
  }

  function select(id) {
    activeTerm = id;
    for (const t of terminals.values()) t.node.style.visibility = t.id === id ? 'visible' : 'hidden';
    for (const tab of $('term-tabs').children) tab.classList.toggle('active', Number(tab.dataset.term) === id);
    const t = terminals.get(id);
    if (t) { fit(t); t.term.focus(); }
  }

  function fit(t) { try { t.term.fit(); } catch (_) {} }

  // A terminal fitted before the server attached it has sent its size too early; send it again.
  function syncSize(t) {
    if (!t || t.readOnly || viewer) return;
    fit(t);
    send({ type: 'resize', id: t.id, cols: t.term.cols, rows: t.term.rows });
  }

  function drop(id) {
    const t = terminals.get(id);
    if (!t) return;
    t.term.destroy(); t.node.remove();
    terminals.delete(id);
    const tab = $('term-tabs').querySelector(`[data-term="${id}"]`);
    if (tab) tab.remove();
    if (activeTerm === id) {
      activeTerm = null;
      const next = [...terminals.keys()].pop();
      if (next !== undefined) select(next);
    }
  }

  function close(id) {
    send({ type: 'close', id });
    drop(id);
  }

  const newTerminal = () => { if (!viewer && ctx.workspace.state === 'running') send({ type: 'open', ...termSize() }); };
  cleanups.push(listen($('new-term'), 'click', newTerminal));
  cleanups.push(ctx.commands.add('New terminal', newTerminal));
  cleanups.push(listen(ctx.bus, 'theme', () => { for (const t of terminals.values()) t.term.setOption('theme', terminalTheme()); }));
  // The pane changes size with the window, the side panels, and once fonts load.
  const observer = new ResizeObserver(() => { const t = terminals.get(activeTerm); if (t) fit(t); });
  observer.observe($('terminals'));

  // For tests and screen readers: the text of a terminal's screen and scrollback.
  window.hearthTerminalText = (id) => {
    const t = terminals.get(id === undefined ? activeTerm : id);
    if (!t) return '';
    const buffer = t.term._core.buffer;
    const lines = [];
    for (let y = 0; y < buffer.lines.length; y++) lines.push(buffer.translateBufferLineToString(y, true));
    return lines.join('\n');
  };
  window.hearthTerminalSize = (id) => {
    const t = terminals.get(id === undefined ? activeTerm : id);
    return t ? { cols: t.term.cols, rows: t.term.rows } : null;
  };

  ctx.terminals = { newTerminal };
  return {
    dispose() {
      socket.close();
      observer.disconnect();
      for (const c of cleanups) c();
      for (const t of terminals.values()) { t.term.destroy(); t.node.remove(); }
      terminals.clear();
      $('term-tabs').replaceChildren();
      window.hearthTerminalText = () => '';
      window.hearthTerminalSize = () => null;
      ctx.terminals = null;
    },
  };
}
