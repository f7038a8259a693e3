// What a create shows while it waits for the base image (issue 15, item 7): `hearth serve`
// builds it in the background, and a first create waits for what remains. Pure: it turns
// `GET /v1/images/base` into a label and decides when to ask again; the create form does the I/O.

/// The first look waits a moment, so a create that finds the image ready shows nothing extra;
/// then every 2 s, as `hearth create` does.
export const FIRST_POLL_MS = 800;
export const POLL_MS = 2000;
const MAX_TEXT = 300;

/// Server text, bounded and on one line: it goes into the page as text, never as markup.
function clip(value) {
  if (typeof value !== 'string') return '';
  const line = value.replace(/\s+/g, ' ').trim();
  return line.length > MAX_TEXT ? line.slice(0, MAX_TEXT - 1) + '…' : line;
}

/// `42 s`, `3 min 05 s`; nothing for a missing, negative or non-finite number.
export function formatElapsed(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.min(Math.floor(seconds), 99 * 3600);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/// The create form's status line for a status body (or null when the last look failed):
/// `{ state, text, failed }`. `state` is the server's (`idle`, `building`, `ready`, `failed`) or
/// `unknown`; `failed` marks the state the page shows as an error.
export function baseImageView(status) {
  const state = status && typeof status.state === 'string' ? status.state : 'unknown';
  switch (state) {
    case 'building': {
      const step = clip(status.step) || 'building';
      const elapsed = formatElapsed(status.elapsed_seconds);
      return { state, failed: false, text: `The server is preparing the base image: ${step}${elapsed ? ` (${elapsed} so far)` : ''}` };
    }
    case 'failed': {
      const message = clip(status.message) || 'no reason given';
      return { state, failed: true, text: `The base image could not be built: ${message}` };
    }
    case 'idle':
      return { state, failed: false, text: 'Creating the workspace; the base image is not built yet…' };
    case 'ready':
      return { state, failed: false, text: 'Creating the workspace…' };
    default:
      return { state: 'unknown', failed: false, text: 'Creating the workspace…' };
  }
}

/// How long to wait before the next look, or null to stop. Looks go on while the create is
/// pending and the image is not ready: a `failed` seen early may be an earlier build's, which the
/// create's own attempt replaces with `building`.
export function nextPoll({ pending, polls, status }) {
  if (!pending) return null;
  if (status && status.state === 'ready') return null;
  return polls > 0 ? POLL_MS : FIRST_POLL_MS;
}

/// After a create failed: the failed-build view to keep on the page, or null when the failure was
/// not the base image's. A `failed` status counts when this create watched the build run, or when
/// the create's error is the build's own message; a failure left from an earlier build under an
/// unrelated refusal (a taken name) does not.
export function createFailureView(status, errorMessage, sawBuilding) {
  const view = baseImageView(status);
  if (!view.failed) return null;
  return sawBuilding || (typeof errorMessage === 'string' && errorMessage !== '' && errorMessage === status.message) ? view : null;
}
