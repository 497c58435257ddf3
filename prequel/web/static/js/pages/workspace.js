// /w/{id}/ before and after the workspace runs: follows the interview's stream, so a workspace
// that becomes ready opens the IDE by itself and one that ends says so, without a manual reload.

import { replaceChildren, pageData } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { isProvisioning, stepsList } from "../lib/status.js";

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

connectEvents(data.events_url, {
  connection: (hello) => {
    if (hello && hello.interview) follow(hello.interview.status);
  },
  interview_update: (view) => follow(view.status),
});
