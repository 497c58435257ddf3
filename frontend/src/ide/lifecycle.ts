// The interview's own stream (SSE): the page learns the workspace ended (deadline, submitted,
// ended by the interviewer, revoked) and a moved deadline, without polling.
import { Emitter } from "./events";

export interface InterviewView {
  status: string;
  end_reason: string | null;
  auto_destroy_at: string | null;
}

export interface LifecycleEvents {
  update: InterviewView;
}

function parse(message: MessageEvent): Record<string, unknown> | null {
  try {
    const value = JSON.parse(String(message.data)) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function view(value: unknown): InterviewView | null {
  if (typeof value !== "object" || value === null) return null;
  const raw = value as Record<string, unknown>;
  if (typeof raw.status !== "string") return null;
  return {
    status: raw.status,
    end_reason: typeof raw.end_reason === "string" ? raw.end_reason : null,
    auto_destroy_at: typeof raw.auto_destroy_at === "string" ? raw.auto_destroy_at : null,
  };
}

export class Lifecycle extends Emitter<LifecycleEvents> {
  private source: EventSource | null = null;

  constructor(url: string | null) {
    super();
    if (!url) return;
    // EventSource reconnects by itself with Last-Event-ID; the server replays what we missed.
    const source = new EventSource(url);
    this.source = source;
    source.addEventListener("connection", (message) => {
      const data = parse(message as MessageEvent);
      const interview = view(data?.interview);
      if (interview) this.emit("update", interview);
    });
    source.addEventListener("interview_update", (message) => {
      const interview = view(parse(message as MessageEvent));
      if (interview) this.emit("update", interview);
    });
    window.addEventListener("pagehide", () => source.close());
  }

  close(): void {
    this.source?.close();
  }
}

export type EndKind = "time_up" | "submitted" | "ended" | "revoked";

/** What the end screen says, from the interview's end reason. */
export function endKind(view: InterviewView): EndKind {
  switch (view.end_reason) {
    case "time_up":
      return "time_up";
    case "submitted":
      return "submitted";
    case "revoked":
      return "revoked";
    default:
      return "ended";
  }
}
