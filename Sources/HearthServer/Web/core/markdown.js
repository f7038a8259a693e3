// A model's Markdown as HTML: parsed by marked (Debian's node-marked), then sanitised by DOMPurify
// (node-dompurify) into a fragment that holds no script, no handler, no style, no form, no image
// (no request leaves the page because a model wrote a URL) and no frame. Links open elsewhere
// without the opener or a referrer. Until the two modules load, or if they are not installed,
// the text is shown as text.

const FORBID_TAGS = ['style', 'img', 'picture', 'source', 'video', 'audio', 'iframe', 'object', 'embed', 'form', 'input', 'button',
  'textarea', 'select', 'option', 'svg', 'math', 'link', 'meta', 'base'];
const PURIFY = { USE_PROFILES: { html: true }, FORBID_TAGS, FORBID_ATTR: ['style', 'class', 'id', 'name', 'srcset', 'target'],
  ALLOW_DATA_ATTR: false, RETURN_DOM_FRAGMENT: true };

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

export const markdownReady = () => engines !== null;

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
