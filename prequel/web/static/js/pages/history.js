// History: the viewer's time zone for the date filters, and interviews that end while the
// page is open, added at the top from the staff event stream (never by polling).

import { h, pageData } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { statusBadge } from "../lib/status.js";
import { timeElement, viewerTimeZone } from "../lib/time.js";

const data = pageData("history-data") || {};
const shown = new Set(data.ids || []);
const KIND = { live: "Live interview", take_home: "Take-home" };
let unseen = 0;

// The date filters are days in the viewer's zone; the server needs to know which zone.
const zoneField = document.querySelector("[data-viewer-tz]");
if (zoneField && viewerTimeZone) zoneField.value = viewerTimeZone;

function formatMinutes(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (!hours) return `${rest} min`;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

function minutesBetween(startIso, endIso) {
  if (!startIso || !endIso) return null;
  return Math.max(0, Math.round((Date.parse(endIso) - Date.parse(startIso)) / 60000));
}

// The same cells as the rows of templates/history/list.html.
function historyRow(item) {
  const ended = item.destroyed_at || item.completed_at;
  const actual = minutesBetween(item.started_at, ended);
  const kind = KIND[item.kind] || item.kind;
  const planned = formatMinutes(item.duration_minutes);
  const name = item.candidate_name;
  const detail = `/interviews/${encodeURIComponent(item.id)}`;
  const actions = [];
  if (item.archive) {
    actions.push(
      h("a", { class: "btn btn-small", href: `/api/interviews/${encodeURIComponent(item.id)}/archive`, download: true,
        "aria-label": `Download the saved code of ${name}` }, "Download"),
      h("a", { class: "btn btn-small", href: `${detail}/saved`, "aria-label": `Browse the saved files of ${name}` }, "Files"));
  }
  actions.push(h("a", { class: "btn btn-small btn-quiet", href: detail,
    "aria-label": `Details of ${name}'s ${kind.toLowerCase()}` }, "Details"));
  return h("tr", { class: "is-new", dataset: { interview: item.id } },
    h("td", {},
      h("a", { class: "history-candidate", href: detail }, name),
      h("span", { class: "badge new-mark" }, "Just ended"),
      h("div", { class: "muted history-sub" }, kind, item.candidate_email ? ` · ${item.candidate_email}` : "")),
    h("td", {}, h("code", {}, item.challenge_slug)),
    h("td", {}, statusBadge(item.status, item.end_reason)),
    h("td", { class: "history-dates" },
      h("div", {}, "Ended ", ended ? timeElement(ended) : "—"),
      h("div", { class: "muted" }, item.started_at ? ["Started ", timeElement(item.started_at)] : "Never started"),
      h("div", { class: "muted" }, "Created ", timeElement(item.created_at))),
    h("td", { class: "history-duration" },
      actual === null
        ? h("span", { class: "muted" }, `— of ${planned}`)
        : [formatMinutes(actual), " ", h("span", { class: "muted" }, `of ${planned}`)]),
    h("td", {}, h("div", { class: "actions history-actions" }, actions)));
}

// Whether a newly ended interview belongs on this page as filtered. Date ranges and older
// pages are not guessed at: those get the "show the newest" notice instead.
function belongsHere(item) {
  const filters = data.filters || {};
  if (!data.first_page || filters.dates) return false;
  if (filters.kind && item.kind !== filters.kind) return false;
  if (filters.end_reason && item.end_reason !== filters.end_reason) return false;
  if (filters.q) {
    const needle = filters.q.toLowerCase();
    const haystack = [item.candidate_name, item.candidate_email, item.challenge_slug];
    if (!haystack.some((value) => value && value.toLowerCase().includes(needle))) return false;
  }
  return true;
}

function insertRow(item) {
  const body = document.querySelector("[data-history-rows]");
  if (!body) return;
  body.prepend(historyRow(item));
  document.querySelector("[data-history-table]")?.removeAttribute("hidden");
  document.querySelector("[data-history-empty]")?.remove();
}

function announce() {
  const notice = document.querySelector("[data-new-notice]");
  if (!notice) return;
  unseen += 1;
  notice.querySelector("[data-new-text]").textContent =
    unseen === 1 ? "1 interview ended since this page was loaded." : `${unseen} interviews ended since this page was loaded.`;
  notice.hidden = false;
}

function onInterviewUpdate(item) {
  if (item.status !== "destroyed" || shown.has(item.id)) return;
  shown.add(item.id);
  if (belongsHere(item)) insertRow(item);
  else announce();
}

// Resume right after the state this page was rendered from: nothing in between is lost.
connectEvents(`/api/events?last_event_id=${encodeURIComponent(data.resume_seq || 0)}`, {
  interview_update: onInterviewUpdate,
});
