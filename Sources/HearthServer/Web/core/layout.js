// Side-panel widths: bounded so the editor keeps room, and what is stored is checked.

export const MIN_SIDE = 140;
export const MIN_CENTER = 320;

/// A side width that fits `viewport` next to the other side and the editor's minimum.
export function clampSide(width, viewport, other = 0) {
  const w = Number.isFinite(width) ? Math.round(width) : MIN_SIDE;
  const room = Math.max(MIN_SIDE, viewport - other - MIN_CENTER);
  return Math.min(Math.max(MIN_SIDE, w), room);
}

/// The stored layout, or the default for this viewport: below 1000 px the ports panel starts
/// collapsed, so an 800 px window gives the editor its room.
export function decodeLayout(text, viewport) {
  const narrow = viewport < 1000;
  const fallback = { files: 240, ports: 200, filesCollapsed: false, portsCollapsed: narrow };
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object') return fallback;
    return {
      files: Number.isFinite(v.files) ? v.files : fallback.files,
      ports: Number.isFinite(v.ports) ? v.ports : fallback.ports,
      filesCollapsed: typeof v.filesCollapsed === 'boolean' ? v.filesCollapsed : fallback.filesCollapsed,
      portsCollapsed: typeof v.portsCollapsed === 'boolean' ? v.portsCollapsed : fallback.portsCollapsed,
    };
  } catch (_) {
    return fallback;
  }
}
