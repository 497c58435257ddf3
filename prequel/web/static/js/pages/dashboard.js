// The interviewer dashboard (Current interviews, Take-home tests): rows from the embedded
// page data, then kept live by the staff event stream. No polling, no reload.

import { syncServerTime } from "../lib/clock.js";
import { pageData } from "../lib/dom.js";
import { connectEvents } from "../lib/live.js";
import { toast } from "../lib/ui.js";
import { bindCreateDialogs } from "./dashboard/create_dialogs.js";
import { endInterview } from "./dashboard/end_action.js";
import { LogsModal } from "./dashboard/logs_modal.js";
import { RowsTable } from "./dashboard/rows_table.js";

const data = pageData("dashboard-data");
// Until the stream's first message, the clock the page was rendered with.
syncServerTime(data.server_time);

const logs = new LogsModal(document.getElementById("logs-dialog"));
const table = new RowsTable(document.querySelector("[data-dashboard]"), data, {
  onLogs: (row) => row && logs.open(row, table.challenges.get(row.challenge_slug)?.title),
  onEnd: (row) => endInterview(row, table),
});

bindCreateDialogs({ pageKind: data.kind, onCreated: (created) => table.upsert(created, { quiet: true }) });

// last_event_id: replay whatever happened between rendering this page and connecting.
connectEvents(`/api/events?last_event_id=${encodeURIComponent(data.last_event_id)}`, {
  interview_update: (view) => table.upsert(view),
  operation_update: (operation) => logs.feed(operation),
  scheduler_event: (event) => {
    const row = event.interview_id && table.get(event.interview_id);
    if (row && event.message) toast(`${row.candidate_name}: ${event.message}`, event.level === "warning" ? "error" : "ok");
  },
});
