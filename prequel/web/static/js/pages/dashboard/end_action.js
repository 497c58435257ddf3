// End now (live) and Revoke (take-home): both ask first, then POST .../destroy. The row
// itself changes when the interview_update event arrives; the answer is applied at once too.

import { post } from "../../lib/api.js";
import { confirmDialog, toast } from "../../lib/ui.js";

function question(row) {
  if (row.kind === "live") {
    return {
      title: `End the interview with ${row.candidate_name}?`,
      message: row.status === "active"
        ? "The candidate's work is saved to History, then the workspace is destroyed. They lose access at once."
        : "The interview is cancelled before it starts. This cannot be undone.",
      confirmLabel: "End now",
    };
  }
  const started = row.status !== "invited";
  return {
    title: `Revoke the take-home for ${row.candidate_name}?`,
    message: started
      ? "The candidate's work is saved to History, then the workspace is destroyed. They lose access at once."
      : "The link stops working at once. This cannot be undone.",
    confirmLabel: "Revoke",
  };
}

export async function endInterview(row, table) {
  if (!row) return;
  const ask = question(row);
  if (!(await confirmDialog({ ...ask, danger: true }))) return;
  try {
    const ended = await post(`/api/interviews/${encodeURIComponent(row.id)}/destroy`);
    table.upsert(ended, { quiet: true });
    const what = row.kind === "live" ? "Ending the interview with" : "Revoked the take-home for";
    toast(ended.status === "destroyed" ? `${row.candidate_name}: done. It is now in History.` : `${what} ${row.candidate_name}: saving their work…`);
  } catch (error) {
    toast(`${ask.confirmLabel} failed: ${error.message}`, "error");
  }
}
