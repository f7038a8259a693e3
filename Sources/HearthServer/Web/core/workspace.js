// What the workspace list sends and shows about a workspace: the create request, and its idle
// timeout in words. Pure, so node's tests run it.

/// The idle timeouts the create form offers, in seconds (0: never), within the server's 300 s to 7 days.
export const IDLE_CHOICES = [0, 1800, 7200, 28800, 86400];

/// The body of `POST /v1/workspaces` for a name (optional) and an idle timeout in seconds.
export function createRequest(name, idleSeconds) {
  const body = {};
  const trimmed = (name || '').trim();
  if (trimmed) body.name = trimmed;
  const idle = Number(idleSeconds);
  if (Number.isInteger(idle) && idle > 0) body.idle_timeout_s = idle;
  return body;
}

/// "pauses after 30 min idle", or "never pauses when idle".
export function idleLabel(seconds) {
  if (!seconds) return 'never pauses when idle';
  if (seconds % 86400 === 0) return `pauses after ${seconds / 86400} d idle`;
  if (seconds % 3600 === 0) return `pauses after ${seconds / 3600} h idle`;
  return `pauses after ${Math.round(seconds / 60)} min idle`;
}
