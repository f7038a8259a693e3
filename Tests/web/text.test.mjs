import test from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SAVED_TABS, decodeTabs, encodeTabs, fuzzy, imageLabel, indentFor, modeFor, parentOf, portView, workspacePath } from '../../Sources/HearthServer/Web/core/text.js';
import { clampSide, decodeLayout, MIN_CENTER, MIN_SIDE } from '../../Sources/HearthServer/Web/core/layout.js';
import { CommandRegistry } from '../../Sources/HearthServer/Web/core/commands.js';
import { seeded } from './seeded.mjs';

test('modes and indents: Python indents 4, the rest 2 (issue 15, IDE bug 10)', () => {
  assert.equal(modeFor('/workspace/app.py'), 'python');
  assert.equal(indentFor('/workspace/app.py'), 4);
  assert.equal(indentFor('/workspace/app.js'), 2);
  assert.equal(modeFor('/workspace/Makefile'), 'shell');
  assert.equal(modeFor('/workspace/README'), null);
});

test('the image column shows a name or a short digest, never a raw sha256: (issue 15, IDE bug 10)', () => {
  assert.equal(imageLabel('sha256:0123456789abcdef0123'), 'image 0123456789ab');
  assert.equal(imageLabel('debian:bookworm'), 'debian:bookworm');
  assert.equal(imageLabel(undefined), '');
});

test('fuzzy matches letters in order', () => {
  assert.ok(fuzzy('/workspace/notes.txt', 'nts'));
  assert.ok(!fuzzy('/workspace/notes.txt', 'stn'));
  assert.ok(fuzzy('anything', ''));
});

test('typed paths resolve under /workspace and never climb out of the root', () => {
  assert.equal(workspacePath('src/a.py'), '/workspace/src/a.py');
  assert.equal(workspacePath('b.txt', '/workspace/src'), '/workspace/src/b.txt');
  assert.equal(workspacePath('/etc/x'), '/etc/x', 'absolute paths pass through: the server decides what is allowed');
  assert.equal(workspacePath('../../../../x'), '/x');
  assert.equal(workspacePath('   '), null);
  assert.equal(parentOf('/workspace/a/b'), '/workspace/a');
  assert.equal(parentOf('/x'), '/');
});

test('saved tabs round-trip, and whatever is stored decodes to a bounded list without a throw', () => {
  const text = encodeTabs(['/workspace/a', '/workspace/b'], '/workspace/b');
  assert.deepEqual(decodeTabs(text), { tabs: ['/workspace/a', '/workspace/b'], active: '/workspace/b' });
  const many = Array.from({ length: 100 }, (_, i) => '/workspace/f' + i);
  assert.equal(decodeTabs(encodeTabs(many, null)).tabs.length, MAX_SAVED_TABS);
  for (const bad of [null, '', '{', '[]', '{"v":1,"tabs":"x"}', '{"v":1,"tabs":[1,null,"relative","/ok","/ok"],"active":"/nope"}', '{"v":2,"tabs":["/a"]}']) {
    const d = decodeTabs(bad);
    assert.ok(Array.isArray(d.tabs) && d.tabs.every((p) => typeof p === 'string' && p.startsWith('/')), String(bad));
  }
  assert.deepEqual(decodeTabs('{"v":1,"tabs":[1,null,"relative","/ok","/ok"],"active":"/nope"}'), { tabs: ['/ok'], active: null });
  const random = seeded(7);
  for (let i = 0; i < 2000; i++) {
    const junk = new TextDecoder().decode(random.bytes(random.int(80)));
    const d = decodeTabs(junk);
    assert.ok(d.tabs.length <= MAX_SAVED_TABS);
  }
});

test('the port list: one per port, sorted, junk dropped, and a key that changes only with the set', () => {
  const v = portView([{ port: 8000 }, { port: 22 }, { port: 8000, address: '::' }, { port: 0 }, { port: 70000 }, null, { port: '80' }]);
  assert.deepEqual(v.ports.map((p) => p.port), [22, 8000]);
  assert.equal(v.key, '22,8000');
  assert.equal(portView([]).key, '-');
  assert.equal(portView(undefined).key, '-');
});

test('side panels keep the editor its room at 800 px, and an 800 px window starts with ports collapsed (IDE bug 9)', () => {
  assert.equal(clampSide(5000, 800), 800 - MIN_CENTER);
  assert.equal(clampSide(10, 800), MIN_SIDE);
  assert.equal(clampSide(NaN, 800), MIN_SIDE);
  assert.ok(800 - clampSide(240, 800) - clampSide(200, 800, 240) >= MIN_CENTER);
  assert.equal(decodeLayout(null, 800).portsCollapsed, true);
  assert.equal(decodeLayout(null, 1440).portsCollapsed, false);
  assert.deepEqual(decodeLayout('{"files":300,"ports":"x","filesCollapsed":1}', 1440), { files: 300, ports: 200, filesCollapsed: false, portsCollapsed: false });
  assert.equal(decodeLayout('not json', 800).files, 240);
});

test('commands: added, found by fuzzy name, and gone once their panel removes them (IDE bug 5)', () => {
  const registry = new CommandRegistry();
  const removeTerminal = registry.add('New terminal', () => 'ran');
  registry.add('Save file', () => {}, 'Ctrl+S');
  registry.add('Toggle theme', () => {});
  assert.deepEqual(registry.search('').map((c) => c.name), ['New terminal', 'Save file', 'Toggle theme']);
  assert.deepEqual(registry.search('term').map((c) => c.name), ['New terminal']);
  assert.equal(registry.search('new ter')[0].run(), 'ran');
  assert.equal(registry.search('save')[0].keys, 'Ctrl+S');
  removeTerminal();
  assert.deepEqual(registry.search('term').map((c) => c.name), []);
  // Removing twice, or after a newer command took the name, leaves the newer one.
  const newer = registry.add('Save file', () => 'newer');
  removeTerminal();
  assert.equal(registry.search('save')[0].run(), 'newer');
  newer();
  assert.equal(registry.search('save').length, 0);
});
