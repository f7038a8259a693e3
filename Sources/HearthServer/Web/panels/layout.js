// The workspace page's columns: the file and port panels collapse (buttons, commands) and
// resize (drag the splitter, or focus it and use the arrow keys).
import { $, listen } from '../core/dom.js';
import { clampSide, decodeLayout } from '../core/layout.js';

const KEY = 'hearth.layout';
const STEP = 24;

export function mount(root, ctx) {
  const view = $('ws-view');
  const cleanups = [];
  let layout = decodeLayout(localStorage.getItem(KEY), window.innerWidth);

  function apply() {
    const viewport = window.innerWidth;
    const files = layout.filesCollapsed ? 0 : clampSide(layout.files, viewport, layout.portsCollapsed ? 0 : layout.ports);
    const ports = layout.portsCollapsed ? 0 : clampSide(layout.ports, viewport, files);
    view.style.setProperty('--files-w', files + 'px');
    view.style.setProperty('--ports-w', ports + 'px');
    view.classList.toggle('files-collapsed', layout.filesCollapsed);
    view.classList.toggle('ports-collapsed', layout.portsCollapsed);
    $('toggle-files').setAttribute('aria-pressed', String(!layout.filesCollapsed));
    $('toggle-ports').setAttribute('aria-pressed', String(!layout.portsCollapsed));
    try { localStorage.setItem(KEY, JSON.stringify(layout)); } catch (_) {}
  }

  const toggle = (side) => { layout[side + 'Collapsed'] = !layout[side + 'Collapsed']; apply(); };
  cleanups.push(listen($('toggle-files'), 'click', () => toggle('files')));
  cleanups.push(listen($('toggle-ports'), 'click', () => toggle('ports')));
  cleanups.push(ctx.commands.add('Toggle file panel', () => toggle('files')));
  cleanups.push(ctx.commands.add('Toggle ports panel', () => toggle('ports')));

  // Splitters: the files one grows rightwards, the ports one leftwards.
  for (const [id, side, sign] of [['split-files', 'files', 1], ['split-ports', 'ports', -1]]) {
    const bar = $(id);
    cleanups.push(listen(bar, 'pointerdown', (e) => {
      e.preventDefault();
      bar.setPointerCapture(e.pointerId);
      const startX = e.clientX, start = layout[side];
      const move = (m) => { layout[side] = start + sign * (m.clientX - startX); layout[side + 'Collapsed'] = false; apply(); };
      const up = () => { bar.removeEventListener('pointermove', move); bar.removeEventListener('pointerup', up); layout[side] = clampSide(layout[side], window.innerWidth); apply(); };
      bar.addEventListener('pointermove', move);
      bar.addEventListener('pointerup', up);
    }));
    cleanups.push(listen(bar, 'keydown', (e) => {
      const delta = e.key === 'ArrowRight' ? STEP : e.key === 'ArrowLeft' ? -STEP : 0;
      if (!delta) return;
      e.preventDefault();
      layout[side + 'Collapsed'] = false;
      layout[side] = clampSide(layout[side] + sign * delta, window.innerWidth);
      apply();
    }));
  }
  cleanups.push(listen(window, 'resize', apply));
  apply();
  return { dispose() { for (const c of cleanups) c(); } };
}
