// A model's Markdown as HTML: parsed by marked (Debian's node-marked), then sanitised by DOMPurify
// (node-dompurify) into a fragment of text elements only: no script, handler, style, form, image,
// media, frame or anything else that loads a URL (no request leaves the page because a model wrote
// one). Links open elsewhere without the opener or a referrer, and only to http(s). Until the two
// modules load, or if they are not installed, the text is shown as text.

// An allowlist, not a blocklist: what marked makes of Markdown, nothing more. No attribute that
// loads anything (`src`, `background`, `poster`…), no `id`/`name` (the app's own ids stay its
// own), no `style`, no overlay (`dialog`), and no form control but marked's task-list checkbox
// (dropped: it would be a control the page does not handle).
const ALLOWED_TAGS = ['p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'em', 'strong', 'del', 's', 'code', 'pre', 'blockquote',
  'ul', 'ol', 'li', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'div', 'sup', 'sub', 'kbd'];
const ALLOWED_ATTR = ['href', 'title', 'align', 'start', 'colspan', 'rowspan'];
const PURIFY = { ALLOWED_TAGS, ALLOWED_ATTR, ALLOW_DATA_ATTR: false, ALLOW_ARIA_ATTR: false, RETURN_DOM_FRAGMENT: true };

let engines = null;
let loading = null;

/// Loads marked and DOMPurify once; resolves true when Markdown can be rendered.
export function loadMarkdown() {
  if (!loading) {
    loading = Promise.all([import('/vendor/marked/marked.esm.js'), import('/vendor/dompurify/purify.es.js')])
      .then(([m, p]) => { engines = { marked: m.marked, purify: p.default }; return true; })
      .catch(() => false);
  }
  return loading;
}

/// `text` as a sanitised fragment (or a text node before the engines load), with a copy button on
/// every code block.
export function renderMarkdown(text, copy) {
  if (!engines) return document.createTextNode(text);
  const html = engines.marked.parse(text, { gfm: true, breaks: false, headerIds: false, mangle: false });
  const fragment = engines.purify.sanitize(html, PURIFY);
  for (const a of fragment.querySelectorAll('a')) {
    const href = a.getAttribute('href') || '';
    if (!/^https?:\/\//i.test(href)) a.removeAttribute('href');
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  for (const pre of fragment.querySelectorAll('pre')) {
    const code = pre.textContent;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'agent-code-copy';
    button.textContent = 'Copy';
    button.addEventListener('click', () => copy(code, button));
    const wrap = document.createElement('div');
    wrap.className = 'agent-code';
    pre.replaceWith(wrap);
    wrap.append(button, pre);
  }
  return fragment;
}
