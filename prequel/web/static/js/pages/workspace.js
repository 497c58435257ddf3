// /w/{id}/: follows the interview's stream, so a workspace that becomes ready opens by itself
// and one that ends says so, without a manual reload.

import { post } from "../lib/api.js";
import { replaceChildren, pageData } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { isProvisioning, stepsList } from "../lib/status.js";
import { confirmDialog } from "../lib/ui.js";

const data = pageData("workspace-data");

function follow(status) {
  if (status === data.status) return;
  if (isProvisioning(status) && (isProvisioning(data.status) || data.status === "scheduled")) {
    const holder = document.querySelector("[data-steps]");
    if (holder) {
      replaceChildren(holder, stepsList(status));
      data.status = status;
      return;
    }
  }
  // Ready, ended or failed: the server renders the page for the new state.
  window.location.reload();
}

// A take-home candidate who is done early: after the confirmation the test ends, and the
// stream's next update reloads the page into its "saving your work" state.
async function submit(event) {
  const button = event.currentTarget;
  const error = document.querySelector("[data-submit-error]");
  const confirmed = await confirmDialog({
    title: "Submit your work now?",
    message: "The test ends now: your files are saved for your interviewer and this workspace closes. You cannot change anything afterwards.",
    confirmLabel: "Submit and end the test",
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  if (error) error.hidden = true;
  try {
    await post(button.dataset.submitUrl);
  } catch (failure) {
    button.disabled = false;
    if (error) {
      error.textContent = failure.message || "Your work could not be submitted. Try again in a moment.";
      error.hidden = false;
    }
  }
}

for (const button of document.querySelectorAll("[data-submit]")) button.addEventListener("click", submit);

connectEvents(data.events_url, {
  connection: (hello) => {
    if (hello && hello.interview) follow(hello.interview.status);
  },
  interview_update: (view) => follow(view.status),
});
