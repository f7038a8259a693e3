// Pure helpers: names, labels, matching and what the editor stores between visits.

const MODES = { js: 'javascript', mjs: 'javascript', json: { name: 'javascript', json: true }, ts: 'text/typescript', py: 'python',
  sh: 'shell', bash: 'shell', md: 'markdown', css: 'css', html: 'htmlmixed', htm: 'htmlmixed', xml: 'xml', svg: 'xml',
  c: 'text/x-csrc', h: 'text/x-csrc', cc: 'text/x-c++src', cpp: 'text/x-c++src', java: 'text/x-java', swift: 'text/x-swift',
  go: 'go', rs: 'rust', yml: 'yaml', yaml: 'yaml', kt: 'text/x-kotlin', cs: 'text/x-csharp' };

export function modeFor(path) {
  const name = String(path).split('/').pop();
  if (name === 'Dockerfile' || name === 'Makefile') return 'shell';
  return MODES[name.includes('.') ? name.split('.').pop().toLowerCase() : ''] || null;
}

/// Python's own style (PEP 8) is 4 spaces; the rest keep 2.
export function indentFor(path) {
  return modeFor(path) === 'python' ? 4 : 2;
}

/// A digest means nothing to a person: a name when there is one, else a short digest.
export function imageLabel(image) {
  if (!image) return '';
  if (image.startsWith('sha256:')) return 'image ' + image.slice(7, 19);
  return image;
}

export function fuzzy(text, query) {
  let i = 0;
  for (const c of query) { i = text.indexOf(c, i); if (i < 0) return false; i++; }
  return true;
}

/// A path the user typed, relative to /workspace unless absolute; null when it has no name.
export function workspacePath(typed, base = '/workspace') {
  const t = String(typed || '').trim();
  if (!t) return null;
  const joined = t.startsWith('/') ? t : base.replace(/\/$/, '') + '/' + t;
  const parts = [];
  for (const p of joined.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') { parts.pop(); continue; }
    parts.push(p);
  }
  return parts.length ? '/' + parts.join('/') : null;
}

export function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

// ---- Open tabs kept per workspace across reloads (localStorage holds what any script wrote) ----

export const MAX_SAVED_TABS = 30;
const MAX_PATH = 4096;

export function encodeTabs(paths, active) {
  const kept = paths.filter((p) => typeof p === 'string' && p.length <= MAX_PATH).slice(-MAX_SAVED_TABS);
  return JSON.stringify({ v: 1, tabs: kept, active: kept.includes(active) ? active : null });
}

/// Whatever is stored: a bounded list of absolute paths, never a throw.
export function decodeTabs(text) {
  try {
    const value = JSON.parse(text);
    if (!value || value.v !== 1 || !Array.isArray(value.tabs)) return { tabs: [], active: null };
    const tabs = [...new Set(value.tabs.filter((p) => typeof p === 'string' && p.startsWith('/') && p.length <= MAX_PATH))].slice(-MAX_SAVED_TABS);
    return { tabs, active: tabs.includes(value.active) ? value.active : null };
  } catch (_) {
    return { tabs: [], active: null };
  }
}

/// The port list as the panel draws it: one entry per port, sorted, and the key that says
/// whether a redraw is needed.
export function portView(ports) {
  const unique = [...new Map((Array.isArray(ports) ? ports : []).filter((p) => p && Number.isInteger(p.port) && p.port > 0 && p.port < 65536)
    .map((p) => [p.port, p])).values()].sort((a, b) => a.port - b.port);
  return { ports: unique, key: unique.map((p) => p.port).join(',') || '-' };
}
