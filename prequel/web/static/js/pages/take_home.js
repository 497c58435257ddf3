// /take-home/{passcode}: the candidate's page. The server renders the current state; this
// script starts the test and swaps sections when the candidate's stream says the interview
// changed. Every change is re-read from the page API, so the server alone decides what a
// status means (the same page data a reload would render).

import { get, post } from "../lib/api.js";
import { serverNow, tickCountdowns } from "../lib/clock.js";
import { pageData, replaceChildren } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { isProvisioning, stepsList } from "../lib/status.js";
import { formatLocal, timeElement } from "../lib/time.js";
import { confirmDialog } from "../lib/ui.js";

const data = pageData("take-home-data");
const startButton = document.querySelector("[data-start]");
const startError = document.querySelector("[data-start-error]");
const announcer = document.querySelector("[data-announce]");
let current = data.interview;

// API messages are written as clauses ("too many Start attempts ..."): show them as sentences.
function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function field(name) {
  return document.querySelectorAll(`[data-field="${name}"]`);
}

function fillAccess(page) {
  for (const link of field("workspace-link")) link.href = page.workspace_url || "#";
  for (const row of field("password-row")) row.hidden = !page.password;
  for (const holder of field("password")) {
    const code = holder.querySelector("code");
    const copy = holder.querySelector("[data-copy]");
    if (code) code.textContent = page.password || "";
    if (copy) copy.dataset.copy = page.password || "";
  }
  for (const countdown of field("countdown")) countdown.dataset.countdown = page.auto_destroy_at || "";
  if (page.auto_destroy_at) {
    for (const holder of field("ends-at")) replaceChildren(holder, timeElement(page.auto_destroy_at));
  }
  tickCountdowns();
}

function show(page) {
  const changed = page.state !== current.state;
  current = page;
  for (const section of document.querySelectorAll("[data-states]")) {
    section.hidden = !section.dataset.states.split(" ").includes(page.state);
  }
  for (const message of field("message")) message.textContent = page.message;
  if (isProvisioning(page.status)) {
    for (const holder of document.querySelectorAll("[data-steps]")) replaceChildren(holder, stepsList(page.status));
  }
  if (page.state === "active") fillAccess(page);
  if (changed && announcer) {
    const visible = document.querySelector(`[data-states~="${page.state}"] .state-title`);
    announcer.textContent = `${visible ? visible.textContent.trim() : ""}. ${page.message}`;
  }
}

// Status changes come one by one; a burst of them needs only the last page.
let refreshing = null;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      try {
        show(await get(data.page_url));
      } catch {
        // The stream's next event or reconnect brings the page again.
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

function showStartError(message) {
  startError.textContent = message;
  startError.hidden = false;
}

async function start() {
  const confirmed = await confirmDialog({
    title: "Start the test now?",
    message: `Your workspace is prepared now, and your ${data.duration} start as soon as it is ready. You can start only once.`,
    confirmLabel: "Start now",
  });
  if (!confirmed) return;
  startError.hidden = true;
  startButton.disabled = true;
  startButton.textContent = "Starting…";
  try {
    show(await post(data.activate_url, { passcode: data.passcode }));
  } catch (error) {
    if (error.status === 429) {
      const at = error.retryAfter ? formatLocal(new Date(serverNow() + error.retryAfter * 1000).toISOString(), { short: true }) : "";
      showStartError(`${sentence(error.message)}${at ? ` You can try again at ${at}.` : ""}`);
    } else if (error.status === 409 || error.status === 410) {
      // Started elsewhere, expired or withdrawn meanwhile: the page says which.
      await refresh();
      if (current.state === "ready") showStartError(sentence(error.message));
    } else {
      showStartError(sentence(error.message) || "The test could not be started. Try again in a moment.");
    }
  } finally {
    startButton.disabled = false;
    startButton.textContent = "Start the test";
  }
}

async function submit(event) {
  const button = event.currentTarget;
  const error = document.querySelector("[data-submit-error]");
  const confirmed = await confirmDialog({
    title: "Submit your work now?",
    message: "The test ends now: your files are saved for your interviewer and your workspace closes. You cannot change anything afterwards.",
    confirmLabel: "Submit and end the test",
    danger: true,
  });
  if (!confirmed) return;
  if (error) error.hidden = true;
  button.disabled = true;
  try {
    show(await post(button.dataset.submitUrl));
  } catch (failure) {
    // Ended meanwhile (time up, closed by the interviewer): the page says which.
    await refresh();
    if (current.state === "active" && error) {
      error.textContent = sentence(failure.message) || "Your work could not be submitted. Try again in a moment.";
      error.hidden = false;
    }
  } finally {
    button.disabled = false;
  }
}

if (startButton) startButton.addEventListener("click", start);
for (const button of document.querySelectorAll("[data-submit]")) button.addEventListener("click", submit);

connectEvents(data.events_url, {
  connection: (hello) => {
    if (hello && hello.interview) show(hello.interview);
  },
  interview_update: (view) => {
    // Steps move at once; the rest (messages, password) comes from the page API.
    if (isProvisioning(view.status) && current.state === "starting") {
      for (const holder of document.querySelectorAll("[data-steps]")) replaceChildren(holder, stepsList(view.status));
    }
    refresh();
  },
});
