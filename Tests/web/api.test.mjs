import test from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, createApi } from '../../Sources/HearthServer/Web/core/api.js';

function recorder(response) {
  const calls = [];
  const fetchImpl = async (path, init) => { calls.push({ path, init }); return typeof response === 'function' ? response() : response; };
  return { calls, fetchImpl };
}
const json = (status, value) => new Response(JSON.stringify(value), { status, headers: { 'Content-Type': 'application/json' } });

test('unsafe calls carry the CSRF token, GET does not; JSON bodies are encoded, strings sent as they are', async () => {
  const { calls, fetchImpl } = recorder(() => json(200, { ok: true }));
  const api = createApi({ session: () => ({ csrf: 'tok' }), fetchImpl });
  assert.deepEqual(await api('GET', '/v1/workspaces'), { ok: true });
  await api('POST', '/v1/workspaces', { name: 'a' });
  await api('PUT', '/v1/x', 'raw text');
  assert.equal(calls[0].init.headers['X-CSRF-Token'], undefined);
  assert.equal(calls[1].init.headers['X-CSRF-Token'], 'tok');
  assert.equal(calls[1].init.body, '{"name":"a"}');
  assert.equal(calls[1].init.headers['Content-Type'], 'application/json');
  assert.equal(calls[2].init.body, 'raw text');
  assert.equal(calls[2].init.headers['Content-Type'], undefined);
  assert.equal(calls[0].init.credentials, 'same-origin');
});

test("errors carry the server's code and message; a 401 signs out unless quiet", async () => {
  let signedOut = null;
  const { fetchImpl } = recorder(() => json(401, { error: { code: 'unauthorized', message: 'sign in again' } }));
  const api = createApi({ session: () => null, onUnauthorized: (m) => { signedOut = m; }, fetchImpl });
  await assert.rejects(api('GET', '/v1/session', undefined, { quiet: true }), (e) => e instanceof ApiError && e.status === 401 && e.code === 'unauthorized');
  assert.equal(signedOut, null);
  await assert.rejects(api('GET', '/v1/workspaces'), ApiError);
  assert.equal(signedOut, 'sign in again');
});

test('an error body that is not the API shape keeps the HTTP status', async () => {
  const { fetchImpl } = recorder(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
  const api = createApi({ session: () => null, fetchImpl });
  await assert.rejects(api('GET', '/x'), (e) => e.status === 502 && e.code === 'http_502');
  const weird = createApi({ session: () => null, fetchImpl: async () => json(409, { error: { code: 7, message: null } }) });
  await assert.rejects(weird('GET', '/x'), (e) => e.code === 'http_409' && typeof e.message === 'string');
});

test('204 is null, text is text, raw is the response', async () => {
  assert.equal(await createApi({ session: () => null, fetchImpl: async () => new Response(null, { status: 204 }) })('DELETE', '/x'), null);
  assert.equal(await createApi({ session: () => null, fetchImpl: async () => new Response('hello', { status: 200 }) })('GET', '/x'), 'hello');
  const raw = await createApi({ session: () => null, fetchImpl: async () => new Response('b', { status: 200 }) })('GET', '/x', undefined, { raw: true });
  assert.equal(await raw.text(), 'b');
});
