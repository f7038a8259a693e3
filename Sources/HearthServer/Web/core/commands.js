// The command palette's registry: panels add commands when they mount and remove them when
// they are disposed, so the palette lists only what the page can do now.
import { fuzzy } from './text.js';

export class CommandRegistry {
  constructor() { this.commands = new Map(); }

  /// Adds a command; returns the function that removes it.
  add(name, run, keys = '') {
    const command = { name, run, keys };
    this.commands.set(name, command);
    return () => { if (this.commands.get(name) === command) this.commands.delete(name); };
  }

  /// Commands whose name matches `query` (letters in order, any case): whole-word starts first.
  search(query, limit = 50) {
    const q = String(query || '').toLowerCase().trim();
    const all = [...this.commands.values()];
    const matched = all.filter((c) => fuzzy(c.name.toLowerCase(), q));
    const starts = (c) => (q && c.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q.split(/\s+/)[0])) ? 0 : 1);
    return matched.sort((a, b) => starts(a) - starts(b) || a.name.localeCompare(b.name)).slice(0, limit);
  }
}
