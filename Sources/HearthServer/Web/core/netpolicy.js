// The network panel's pure parts: the rules a user types (one per line) as the API takes them,
// and the server's policy and decision log as lines to show. The server checks every rule again
// (this only catches what is plainly wrong before a round trip) and everything shown is text.

export const MAX_RULES = 64;
export const MAX_RULE_LENGTH = 300;
export const MAX_LOG_LINES = 100;

/// Lines → { rules, errors }: blank lines and `#` comments dropped, duplicates kept once.
export function parseRules(text) {
  const rules = [], errors = [];
  const seen = new Set();
  const lines = String(text ?? '').split('\n');
  lines.forEach((line, index) => {
    const rule = line.trim();
    if (!rule || rule.startsWith('#')) return;
    if (rule.length > MAX_RULE_LENGTH) { errors.push(`line ${index + 1}: too long`); return; }
    // Names, addresses, CIDRs, ports and the tcp:/udp: prefixes only: no spaces or other signs.
    if (!/^[a-z0-9*._:\/-]+$/i.test(rule)) { errors.push(`line ${index + 1}: "${rule.slice(0, 40)}" is not a rule`); return; }
    if (seen.has(rule.toLowerCase())) return;
    seen.add(rule.toLowerCase());
    rules.push(rule);
  });
  if (rules.length > MAX_RULES) errors.push(`at most ${MAX_RULES} rules (${rules.length} given)`);
  return { rules, errors };
}

function texts(list) { return Array.isArray(list) ? list.filter((r) => typeof r === 'string') : []; }

/// The policy body → what the panel shows: the mode, the workspace's own level (its mode and
/// rules, editable; `ownRules` null when the workspace has none of its own), and each rule in force
/// with the levels that allow it.
export function policyView(body) {
  const b = body && typeof body === 'object' ? body : {};
  const level = (l) => (l && typeof l === 'object' ? l : {});
  const effective = Array.isArray(b.networks) ? b.networks.slice(0, 256).filter((n) => n && typeof n.rule === 'string') : [];
  const own = level(b.workspace);
  return {
    mode: typeof b.mode === 'string' ? b.mode : 'unknown',
    own: texts(own.rules),
    ownMode: typeof own.mode === 'string' ? own.mode : null,
    ownRules: Array.isArray(own.rules) ? texts(own.rules) : null,
    inForce: effective.map((n) => ({ rule: n.rule, because: texts(n.because).join('; ') })),
  };
}

/// The netlog body → at most MAX_LOG_LINES lines, newest first, and the counters.
export function netlogView(body) {
  const b = body && typeof body === 'object' ? body : {};
  const entries = Array.isArray(b.entries) ? b.entries : [];
  const lines = [];
  for (let i = entries.length - 1; i >= 0 && lines.length < MAX_LOG_LINES; i--) {
    const e = entries[i];
    if (!e || typeof e !== 'object') continue;
    const time = typeof e.time === 'string' ? e.time.replace(/^.*T/, '').replace(/Z$/, '') : '';
    lines.push({ allowed: e.allowed === true, text: `${time} ${e.allowed === true ? 'allowed' : 'denied'} ${typeof e.kind === 'string' ? e.kind : ''} ${typeof e.destination === 'string' ? e.destination : ''}`.trim(),
      why: typeof e.rule === 'string' ? e.rule : '' });
  }
  const n = (v) => (Number.isSafeInteger(v) && v >= 0 ? v : 0);
  return { lines, summary: `${n(b.denied_names)} names and ${n(b.denied_packets)} connections denied, ${n(b.allowed_names)} names allowed` };
}

/// The body of `PUT …/network` for the rules typed in: the server replaces the workspace's whole
/// level, so the level's mode goes back as it was (leaving it out would drop a `deny-all` the
/// workspace had set, and widen it), and rules the workspace never had stay absent unless some
/// were typed.
export function levelBody(view, typed) {
  const body = {};
  if (view && typeof view.ownMode === 'string') body.mode = view.ownMode;
  if ((view && Array.isArray(view.ownRules)) || typed.length) body.rules = typed;
  return body;
}
