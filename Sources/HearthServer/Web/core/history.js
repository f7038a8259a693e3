// Pure helpers of the History section (issue 16): the generations as rows, a diff as lines, how old
// the last durable state is, and whether bytes read back from a generation can be shown as text.
// No DOM, so `node --test` runs them.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function size(bytes) {
  let value = Number(bytes) || 0, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/// "12 s ago", "5 min ago", "3 h ago", "2 d ago"; a time in the future (a skewed clock) is "just now".
export function age(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'unknown';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/// The workspace's durability line: its generation and how old that state is.
export function durability(workspace, now = Date.now()) {
  if (!workspace || workspace.durable_generation == null || !workspace.durable_at) return 'Not committed to the store yet.';
  return `Saved ${age(workspace.durable_at, now)} (generation ${workspace.durable_generation}).`;
}

/// Newest first, each with the number of the generation before it (for its diff), at most `limit`.
export function generationRows(body, limit = 200) {
  const list = Array.isArray(body && body.generations) ? body.generations : [];
  const rows = [];
  for (let i = list.length - 1; i >= 0 && rows.length < limit; i -= 1) {
    const g = list[i];
    if (!g || !Number.isSafeInteger(g.generation)) continue;
    rows.push({
      generation: g.generation,
      previous: i > 0 && Number.isSafeInteger(list[i - 1].generation) ? list[i - 1].generation : null,
      label: `#${g.generation} · ${String(g.trigger || 'other')} · ${size(g.bytes_added)} added`,
      title: `${g.created_at || ''} · ${g.files ?? '?'} files · ${size(g.bytes)}`,
      createdAt: g.created_at || '',
    });
  }
  return rows;
}

const signs = { added: '+', removed: '−', modified: '~' };

/// A diff's changes as lines; a path that is a file in the newer generation can be opened.
export function diffLines(body) {
  const changes = Array.isArray(body && body.changes) ? body.changes : [];
  const lines = changes
    .filter((c) => c && typeof c.path === 'string')
    .map((c) => ({ text: `${signs[c.kind] || '?'} ${c.path}`, path: c.path, openable: c.kind !== 'removed' && !c.path.endsWith('/') }));
  if (body && body.truncated) lines.push({ text: '… more changes than one answer lists', path: null, openable: false });
  return lines;
}

/// Text when it decodes as UTF-8 with no NUL in the first 8 KiB; the shown part is bounded.
export function asText(bytes, limit = 256 * 1024) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes || []);
  if (view.subarray(0, 8192).includes(0)) return null;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(view.subarray(0, limit));
    return view.length > limit ? `${text}\n… (${size(view.length - limit)} more)` : text;
  } catch (_) {
    // A cut through a multi-byte character at the limit is not binary.
    if (view.length > limit) {
      try { return new TextDecoder('utf-8', { fatal: true }).decode(view.subarray(0, limit - 3)) + '\n…'; } catch (_) { /* binary */ }
    }
    return null;
  }
}
