// Hearth's web IDE: ES modules, no build step. xterm.js 3 and CodeMirror 5 come from Debian as
// classic scripts (globals Terminal and CodeMirror). This file routes between the sign-in, the
// workspace list and a workspace page, and mounts the panels: each is mount(root, ctx) →
// { dispose }, and leaving a workspace disposes them all.
import { $, toast } from './core/dom.js';
import { createApi } from './core/api.js';
import { CommandRegistry } from './core/commands.js';
import * as agents from './panels/agents.js';
import * as editor from './panels/editor.js';
import * as files from './panels/files.js';
import * as layout from './panels/layout.js';
import * as network from './panels/network.js';
import * as history from './panels/history.js';
import * as lifecycle from './panels/lifecycle.js';
import * as palette from './panels/palette.js';
import * as ports from './panels/ports.js';
import * as terminals from './panels/terminals.js';
import * as workspaces from './panels/workspaces.js';

let session = null;
let page = null; // { kind: 'list' | 'workspace', id?, mounted: [{ dispose }], ctx? }

const api = createApi({ session: () => session, onUnauthorized: (message) => showLogin(message) });

function show(view) {
  for (const v of ['login-view', 'list-view', 'ws-view']) $(v).hidden = v !== view;
}

function leave() {
  if (!page) return;
  const mounted = page.mounted;
  page = null;
  for (const panel of mounted.reverse()) { try { panel.dispose(); } catch (err) { console.error(err); } }
}

function showLogin(message) {
  session = null;
  $('who').textContent = '';
  $('signout').hidden = true;
  $('crumb').textContent = '';
  leave();
  show('login-view');
  $('login-error').textContent = message && message !== 'a valid bearer token is required' ? message : '';
  $('login-email').focus();
}

function signedIn(s) {
  session = s;
  $('who').textContent = `${s.user} · ${s.tenant} · ${s.role}`;
  $('signout').hidden = false;
}

async function route() {
  if (!session) {
    try { signedIn(await api('GET', '/v1/session', undefined, { quiet: true })); } catch (_) { return showLogin(); }
  }
  const match = location.hash.match(/^#\/w\/([^/]+)/);
  if (match) return openWorkspace(decodeURIComponent(match[1]));
  if (page && page.kind === 'list') return;
  leave();
  show('list-view');
  $('crumb').textContent = '';
  const ctx = { api, session, canWrite: session.role !== 'viewer' };
  page = { kind: 'list', mounted: [workspaces.mount($('list-view'), ctx)] };
}

async function openWorkspace(id) {
  if (page && page.kind === 'workspace' && page.id === id) return;
  leave();
  const token = page = { kind: 'workspace', id, mounted: [] };
  let w;
  try { w = await api('GET', `/v1/workspaces/${encodeURIComponent(id)}`); }
  catch (err) { if (page === token) page = null; toast(err.message, true); location.hash = '#/'; return; }
  if (page !== token) return;
  const bus = new EventTarget();
  const ctx = {
    api, session, bus, toast, workspace: w, canWrite: session.role !== 'viewer', commands: new CommandRegistry(),
    filesURL: (what, path, extra = '') => `/v1/workspaces/${w.id}/files/${what}?path=${encodeURIComponent(path)}${extra}`,
    setState(state) {
      if (page !== token || w.state === state) return;
      w.state = state;
      crumb();
      bus.dispatchEvent(new CustomEvent('state', { detail: state }));
    },
    // A 404 for the workspace itself: it was deleted under the page.
    gone(err) {
      if (!err || err.status !== 404 || page !== token) return false;
      toast('This workspace was deleted.', true);
      location.hash = '#/';
      return true;
    },
  };
  const crumb = () => { $('crumb').textContent = `/ ${w.name} (${w.runtime}, ${w.state})`; };
  crumb();
  show('ws-view');
  ctx.commands.add('Toggle theme', toggleTheme);
  ctx.commands.add('Go to workspace list', () => { location.hash = '#/'; });
  const root = $('ws-view');
  for (const panel of [layout, lifecycle, editor, files, ports, network, history, agents, terminals, palette]) token.mounted.push(panel.mount(root, ctx));
  token.ctx = ctx;
}

function toggleTheme() {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('hearth.theme', next);
  if (page && page.ctx) page.ctx.bus.dispatchEvent(new CustomEvent('theme'));
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    signedIn(await api('POST', '/v1/session', { email: $('login-email').value, password: $('login-password').value }, { quiet: true }));
    $('login-password').value = '';
    route();
  } catch (err) { $('login-error').textContent = err.message; }
});

$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch (_) {}
  location.hash = '#/';
  showLogin();
});

$('theme').addEventListener('click', toggleTheme);
document.documentElement.dataset.theme = localStorage.getItem('hearth.theme') || 'dark';
window.addEventListener('hashchange', route);
route();
