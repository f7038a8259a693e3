// The REST client: CSRF on every unsafe call, one error type with the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/// `session()` gives the signed-in session (for its CSRF token) or null; `onUnauthorized` runs on
/// a 401 unless the call is `quiet`. `fetchImpl` is the browser's fetch, or a test's.
export function createApi({ session, onUnauthorized = () => {}, fetchImpl = (...a) => fetch(...a) }) {
  return async function api(method, path, body, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    const s = session();
    if (s && s.csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = s.csrf;
    let payload = body;
    if (body !== undefined && !(typeof Blob !== 'undefined' && body instanceof Blob) && typeof body !== 'string') {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetchImpl(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401 && !opts.quiet) onUnauthorized(error.message);
      throw error;
    }
    if (opts.raw) return response;
    if (response.status === 204) return null;
    const type = response.headers.get('Content-Type') || '';
    return type.includes('json') ? response.json() : response.text();
  };
}

/// The server's `{"error":{"code","message"}}`, or the HTTP status when the body is not that.
export async function errorFrom(response) {
  let code = 'http_' + response.status, message = response.statusText || `HTTP ${response.status}`;
  try {
    const e = (await response.json()).error;
    if (e && typeof e.code === 'string') code = e.code;
    if (e && typeof e.message === 'string') message = e.message;
  } catch (_) { /* not JSON: keep the status */ }
  return new ApiError(response.status, code, message);
}
