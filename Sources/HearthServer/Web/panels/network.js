// The workspace's network (issue 17): the mode and every rule in force with the levels that allow
// it, the workspace's own rules (which can only narrow what the server and the tenant allow), and
// its recent decisions. Read when the section is opened and on Refresh; nothing is polled.
import { $, el, listen } from '../core/dom.js';
import { levelBody, netlogView, parseRules, policyView } from '../core/netpolicy.js';

export function mount(root, ctx) {
  const pane = $('network-pane'), mode = $('net-mode'), inForce = $('net-effective'), rules = $('net-rules');
  const log = $('net-log'), summary = $('net-summary'), errors = $('net-errors');
  const cleanups = [];
  let disposed = false;
  const base = `/v1/workspaces/${ctx.workspace.id}`;
  let shown = null; // the policy as last read: its own mode and rules go back with a save

  function showPolicy(body) {
    const view = policyView(body);
    shown = view;
    mode.textContent = `Mode: ${view.mode}`;
    inForce.replaceChildren(...(view.inForce.length
      ? view.inForce.map((n) => el('li', { title: n.because }, n.rule))
      : [el('li', { class: 'muted' }, view.mode === 'open' ? 'Open: everything but the always-blocked.' : 'Nothing is allowed.')]));
    if (document.activeElement !== rules) rules.value = view.own.join('\n');
  }

  async function refresh() {
    if (disposed || !pane.open) return;
    errors.textContent = '';
    try {
      showPolicy(await ctx.api('GET', `${base}/network`));
    } catch (err) {
      // Not ctx.gone(): "networking is off on this server" is a 404 too, and says nothing about
      // the workspace itself.
      if (disposed) return;
      mode.textContent = err.message;
      inForce.replaceChildren();
      return;
    }
    try {
      const view = netlogView(await ctx.api('GET', `${base}/netlog`));
      summary.textContent = view.summary;
      log.replaceChildren(...view.lines.map((l) => el('li', { class: l.allowed ? '' : 'net-denied', title: l.why }, l.text)));
    } catch (err) {
      if (disposed) return;
      summary.textContent = err.message;
      log.replaceChildren();
    }
  }

  async function save(e) {
    e.preventDefault();
    const parsed = parseRules(rules.value);
    errors.textContent = parsed.errors.join('\n');
    if (parsed.errors.length) return;
    if (!shown) { errors.textContent = 'The policy could not be read; refresh first.'; return; }
    try {
      showPolicy(await ctx.api('PUT', `${base}/network`, levelBody(shown, parsed.rules)));
      ctx.toast('Network rules saved.');
    } catch (err) { errors.textContent = err.message; }
  }

  cleanups.push(listen(pane, 'toggle', refresh));
  cleanups.push(listen($('net-refresh'), 'click', refresh));
  cleanups.push(listen($('net-form'), 'submit', save));
  $('net-form').hidden = !ctx.canWrite;
  refresh();
  return {
    dispose() {
      disposed = true;
      for (const c of cleanups) c();
      for (const node of [inForce, log]) node.replaceChildren();
      for (const node of [mode, summary, errors]) node.textContent = '';
      rules.value = '';
    },
  };
}
