// One transcript item of the Agents view as DOM. The model's answers are Markdown, rendered and
// sanitised (core/markdown.js); what a user typed, tool arguments and tool output are text
// (textContent only): JSON coloured by token, unified diffs by line. A tool step folds.
import { el } from './dom.js';
import { diffLines, isUnifiedDiff, jsonTokens, prettyJSON } from './agentrender.js';
import { renderMarkdown } from './markdown.js';

const KIND_LABEL = { user: 'You', assistant: 'Agent', thinking: 'Thinking', status: '', error: 'Error', scrub: 'Scrubbed', step: '' };

/// A `<pre>` of `text`: JSON tokens or diff lines in spans when it is one, else plain.
export function codeBlock(text, cls) {
  const pre = el('pre', { class: cls });
  const json = prettyJSON(text);
  if (json !== null) {
    pre.classList.add('agent-json');
    for (const t of jsonTokens(json)) pre.append(t.cls ? el('span', { class: `j-${t.cls}` }, t.text) : t.text);
  } else if (isUnifiedDiff(text)) {
    pre.classList.add('agent-diff');
    diffLines(text).forEach((line, i) => {
      if (i > 0) pre.append('\n');
      pre.append(line.cls ? el('span', { class: `d-${line.cls}` }, line.text) : line.text);
    });
  } else {
    pre.textContent = text;
  }
  return pre;
}

function stepView(item, actions) {
  const node = el('div', { class: 'agent-item agent-step', 'data-seq': item.seq, 'data-step': item.step });
  node.append(el('span', { class: 'muted' }, item.generation === null ? `${item.text} (files not kept)` : `${item.text} · generation ${item.generation}`));
  if (actions.canWrite && item.generation !== null) {
    node.append(el('button', { type: 'button', class: 'agent-rewind', 'data-step': item.step, title: 'Put the conversation and the files back to this step' }, 'Rewind'),
      el('button', { type: 'button', class: 'agent-fork', 'data-step': item.step, title: 'A new session and workspace from this step' }, 'Fork'));
  }
  return node;
}

function toolView(item, actions) {
  const r = item.result;
  const note = r
    ? [r.exitCode !== null ? `exit ${r.exitCode}` : null, r.isError ? 'error' : null, r.truncated ? 'truncated' : null, `${r.ms} ms`].filter(Boolean).join(' · ')
    : item.stopped ? 'not run' : 'running…';
  const details = el('details', { class: 'agent-item agent-tool', 'data-seq': item.seq });
  // Open or shut as the user left it, across redraws (a result arriving redraws the step).
  if (actions.isOpen(item.seq)) details.open = true;
  details.addEventListener('toggle', () => actions.setOpen(item.seq, details.open));
  details.append(el('summary', {}, el('span', { class: 'agent-tool-name' }, item.name || 'tool'), ' ',
    el('span', { class: r && r.isError ? 'muted agent-bad' : 'muted' }, note)));
  details.append(el('div', { class: 'agent-head' }, 'Arguments'), codeBlock(item.arguments || '', 'agent-args'));
  if (r) details.append(el('div', { class: 'agent-head' }, 'Result'), codeBlock(r.content, r.isError ? 'agent-out agent-bad' : 'agent-out'));
  return details;
}

/// A message's head: who, and (for what was said) copy and download of its Markdown.
function head(item, actions) {
  const row = el('div', { class: 'agent-head' }, KIND_LABEL[item.kind]);
  if ((item.kind === 'user' || item.kind === 'assistant') && !item.partial) {
    row.append(el('span', { class: 'spacer' }),
      el('button', { type: 'button', class: 'agent-copy', 'data-seq': item.seq, title: 'Copy this message as Markdown' }, 'Copy'),
      el('button', { type: 'button', class: 'agent-save', 'data-seq': item.seq, title: 'Download this message as Markdown' }, '.md'));
  }
  return row;
}

/// The node of one item. `actions`: { canWrite, isOpen(seq), setOpen(seq, open), copy(text, button) }.
export function itemView(item, actions) {
  if (item.kind === 'step') return stepView(item, actions);
  if (item.kind === 'tool') return toolView(item, actions);
  const node = el('div', { class: `agent-item agent-${item.kind}`, 'data-seq': item.seq });
  if (KIND_LABEL[item.kind]) node.append(head(item, actions));
  if (item.kind === 'assistant' && !item.partial) {
    const body = el('div', { class: 'agent-text agent-markdown' });
    body.append(renderMarkdown(item.text, actions.copy));
    node.append(body);
  } else if (item.kind === 'assistant') {
    // Text while it streams (parsing and sanitising up to 1 MiB every frame would stall the tab),
    // Markdown once whole.
    node.append(el('div', { class: 'agent-text agent-markdown' }, item.text, el('span', { class: 'agent-cursor' }, ' ▍')));
  } else {
    node.append(el('div', { class: 'agent-text' }, item.text + (item.partial ? ' ▍' : '')));
  }
  return node;
}
