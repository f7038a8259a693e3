import test from 'node:test';
import assert from 'node:assert/strict';
import { diffLines, idleLabel, isUnifiedDiff, itemMarkdown, jsonTokens, markdownFileName, MAX_COLOURED, memoryLabel, prettyJSON }
  from '../../Sources/HearthServer/Web/core/agentrender.js';
import { seeded } from './seeded.mjs';

test('JSON is pretty-printed and split into tokens that join back to the text', () => {
  const pretty = prettyJSON('{"command":"ls -la","timeout":120,"ok":true,"x":null,"list":[1,"a\\"b"]}');
  assert.ok(pretty.includes('\n  "command": "ls -la"'));
  const tokens = jsonTokens(pretty);
  assert.equal(tokens.map((t) => t.text).join(''), pretty);
  assert.deepEqual(tokens.filter((t) => t.cls === 'key').map((t) => t.text), ['"command"', '"timeout"', '"ok"', '"x"', '"list"']);
  assert.ok(tokens.some((t) => t.cls === 'string' && t.text === '"a\\"b"'));
  assert.ok(tokens.some((t) => t.cls === 'number' && t.text === '120'));
  assert.deepEqual(tokens.filter((t) => t.cls === 'literal').map((t) => t.text), ['true', 'null']);
});

test('what is not a JSON object or array, or is too big, is not treated as JSON', () => {
  for (const text of ['ls', '42', '"a"', '{"a":', '', null, undefined, 12, '{' + ' '.repeat(MAX_COLOURED) + '}']) assert.equal(prettyJSON(text), null, String(text).slice(0, 20));
});

test('hostile text never throws and always tokenises back to itself', () => {
  const random = seeded(0xA6E7);
  const alphabet = '{}[]:,"\\ \n\t-0123456789eEtruefalsnl<>&\u2028\u0000é';
  for (let i = 0; i < 2000; i++) {
    let text = '';
    const n = random.int(80);
    for (let j = 0; j < n; j++) text += alphabet[random.int(alphabet.length)];
    assert.equal(jsonTokens(text).map((t) => t.text).join(''), text);
    prettyJSON(text);
    isUnifiedDiff(text);
  }
});

test('unified diffs are recognised and coloured by line', () => {
  const diff = 'diff --git a/x b/x\nindex 1..2\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n same\n-old\n+new';
  assert.ok(isUnifiedDiff(diff));
  assert.ok(isUnifiedDiff('--- a\n+++ b\n'));
  assert.deepEqual(diffLines(diff).map((l) => l.cls), ['file', 'file', 'file', 'file', 'hunk', '', 'del', 'add']);
  assert.ok(!isUnifiedDiff('- a list\n+ not a diff'));
  assert.ok(!isUnifiedDiff('total 4\n-rw-r--r-- 1 root root 0 a.txt'));
});

test('an item as Markdown: a message is its text; a tool step fences its call and result so they cannot close the fence', () => {
  assert.equal(itemMarkdown({ kind: 'assistant', text: 'Use `ls`.' }), '**Agent**\n\nUse `ls`.\n');
  assert.equal(itemMarkdown({ kind: 'user', text: 'hi' }), '**You**\n\nhi\n');
  const md = itemMarkdown({ kind: 'tool', name: 'bash', arguments: '{"command":"cat x"}', result: { content: 'a\n```\nb', isError: true } });
  assert.ok(md.startsWith('**Tool call** `bash`\n\n```json\n{\n  "command": "cat x"\n}\n```\n'), md);
  assert.ok(md.includes('**Result** (error)\n\n````\na\n```\nb\n````\n'), md);
  assert.equal(itemMarkdown({ kind: 'status', text: 'rewound to step 0' }), '_rewound to step 0_\n');
});

test('file names keep only safe characters; labels for idle timeouts and the memory gauge', () => {
  assert.equal(markdownFileName('as_0123abc'), 'agent-as_0123abc.md');
  assert.equal(markdownFileName('../../etc/passwd', 7), 'agent-etcpasswd-7.md');
  assert.equal(markdownFileName('', 'x'), 'agent-session-0.md');
  assert.equal(idleLabel(3600), '1 hour');
  assert.equal(idleLabel(7200), '2 hours');
  assert.equal(idleLabel(900), '15 minutes');
  assert.equal(memoryLabel({ memory_pressure: 0.431, admission_threshold: 0.9 }), 'Host memory 43% (new sessions wait above 90%)');
  assert.equal(memoryLabel({ memory_pressure: 'x' }), 'Host memory 0%');
  assert.equal(memoryLabel({ memory_pressure: 7, admission_threshold: -1 }), 'Host memory 100%');
});
