// Dates in the viewer's own timezone. Templates render <time datetime="ISO">UTC text</time>;
// localizeTimes() rewrites the text once the browser knows where the viewer is.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
export const viewerTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatLocal(iso, { short = false } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  return short && sameDay ? timeOnly.format(date) : dateTime.format(date);
}

export function timeElement(iso, options = {}) {
  const el = document.createElement("time");
  el.dateTime = iso;
  el.textContent = formatLocal(iso, options);
  el.title = `${new Date(iso).toUTCString()} (shown in ${viewerTimeZone})`;
  return el;
}

export function localizeTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const text = formatLocal(el.dateTime, { short: el.dataset.short !== undefined });
    if (!text) continue;
    el.textContent = text;
    el.title = `${new Date(el.dateTime).toUTCString()} (shown in ${viewerTimeZone})`;
  }
}

// "YYYY-MM-DDTHH:MM" from an <input type="datetime-local"> (the viewer's zone) to UTC ISO.
export function localInputToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
