// How the Agents view shows what a model and a workspace wrote, as pure functions (no DOM, so
// `node --test` checks them): JSON as coloured tokens, unified diffs as coloured lines, one
// message or a tool step as Markdown for copy and download. Every piece is text for textContent;
// nothing here makes HTML.

/// Above this, JSON and diffs are shown plain: colouring 64 KiB of tokens is not worth a frame.
export const MAX_COLOURED = 32 * 1024;

const JSON_TOKEN = /("(?:[^"\\\n]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],:])|(\s+)|(.)/gy;

/// `text` as JSON, pretty-printed, or null when it is not a JSON object or array.
export function prettyJSON(text) {
  if (typeof text !== 'string' || text.length > MAX_COLOURED) return null;
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return null;
  try { return JSON.stringify(JSON.parse(trimmed), null, 2); } catch (_) { return null; }
}

/// Tokens `{ cls, text }` of JSON text; joined, they are the text again. Classes: key, string,
/// number, literal, punct, or '' (space and anything else).
export function jsonTokens(text) {
  const tokens = [];
  JSON_TOKEN.lastIndex = 0;
  let m;
  while (JSON_TOKEN.lastIndex < text.length && (m = JSON_TOKEN.exec(text)) !== null) {
    if (m[1] !== undefined) {
      tokens.push({ cls: m[2] !== undefined ? 'key' : 'string', text: m[1] });
      if (m[2] !== undefined) tokens.push({ cls: 'punct', text: m[2] });
    } else if (m[3] !== undefined) tokens.push({ cls: 'number', text: m[3] });
    else if (m[4] !== undefined) tokens.push({ cls: 'literal', text: m[4] });
    else if (m[5] !== undefined) tokens.push({ cls: 'punct', text: m[5] });
    else tokens.push({ cls: '', text: m[0] });
  }
  return tokens;
}

/// Whether `text` reads as a unified diff (git's or diff -u's): a hunk header, or both file headers.
export function isUnifiedDiff(text) {
  if (typeof text !== 'string' || text.length > MAX_COLOURED) return false;
  const lines = text.split('\n', 400);
  if (lines.some((l) => /^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/.test(l))) return true;
  const i = lines.findIndex((l) => l.startsWith('--- '));
  return i >= 0 && i + 1 < lines.length && lines[i + 1].startsWith('+++ ');
}

/// Lines `{ cls, text }` of a unified diff: add, del, hunk, file, or '' (context).
export function diffLines(text) {
  return text.split('\n').map((line) => {
    let cls = '';
    if (line.startsWith('+++ ') || line.startsWith('--- ') || line.startsWith('diff --git ') || line.startsWith('index ')) cls = 'file';
    else if (line.startsWith('@@')) cls = 'hunk';
    else if (line.startsWith('+')) cls = 'add';
    else if (line.startsWith('-')) cls = 'del';
    return { cls, text: line };
  });
}

/// A fence longer than any run of backticks in `text`, so the text cannot close it.
function fence(text) {
  const runs = text.match(/`+/g) || [];
  return '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
}

/// One item of the transcript as Markdown: a message is its own text (the model writes Markdown),
/// a tool step its call and result in fences.
export function itemMarkdown(item) {
  switch (item.kind) {
    case 'user': return `**You**\n\n${item.text}\n`;
    case 'assistant': return `**Agent**\n\n${item.text}\n`;
    case 'tool': {
      const args = prettyJSON(item.arguments) || item.arguments || '';
      let out = `**Tool call** \`${item.name}\`\n\n${fence(args)}json\n${args}\n${fence(args)}\n`;
      if (item.result) {
        const r = item.result.content;
        out += `\n**Result**${item.result.isError ? ' (error)' : ''}\n\n${fence(r)}\n${r}\n${fence(r)}\n`;
      }
      return out;
    }
    default: return item.text ? `_${item.text}_\n` : '';
  }
}

/// A file name for a session's transcript or one of its messages.
export function markdownFileName(sessionId, seq) {
  const id = String(sessionId).replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40) || 'session';
  return seq === undefined ? `agent-${id}.md` : `agent-${id}-${Number(seq) || 0}.md`;
}

/// The idle timeouts offered, and a label for any other the session has (set through the API).
export const IDLE_CHOICES = [[300, '5 minutes'], [3600, '1 hour'], [8 * 3600, '8 hours'], [86400, '1 day'], [3 * 86400, '3 days'], [7 * 86400, '7 days']];
export function idleLabel(seconds) {
  const known = IDLE_CHOICES.find(([s]) => s === seconds);
  if (known) return known[1];
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}

/// The memory gauge's words: how full the host is, and where new sessions stop being admitted.
export function memoryLabel(system) {
  const used = Math.round(Math.min(1, Math.max(0, Number(system.memory_pressure) || 0)) * 100);
  const limit = Math.round(Math.min(1, Math.max(0, Number(system.admission_threshold) || 0)) * 100);
  return limit > 0 ? `Host memory ${used}% (new sessions wait above ${limit}%)` : `Host memory ${used}%`;
}
