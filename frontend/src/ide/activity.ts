// What the recording cannot see from the workspace: the candidate's tab losing or regaining
// focus, and pastes into the editor (their size and where they came from). Sent to the agent's
// `POST /recording/events` through the portal's proxy; a failure is only logged (recording is
// the workspace's business, never a reason to disturb the candidate).
import { type IdeConfig, agentUrl } from "./config";
import { requestJson } from "./http";

type FocusState = "lost" | "regained";

export class ActivityReporter {
  private focused = true;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly config: IdeConfig) {
    const check = (): void => this.scheduleFocusCheck();
    document.addEventListener("visibilitychange", check);
    window.addEventListener("blur", check);
    window.addEventListener("focus", check);
  }

  paste(path: string | null, size: number, source: "clipboard" | "unknown"): void {
    void this.send("paste", { path, size, source });
  }

  private scheduleFocusCheck(): void {
    // A click into the terminal's iframe-less textarea blurs and refocuses within a tick.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const focused = !document.hidden && document.hasFocus();
      if (focused === this.focused) return;
      this.focused = focused;
      const state: FocusState = focused ? "regained" : "lost";
      void this.send("presence.focus", { state });
    }, 300);
  }

  private async send(type: string, data: Record<string, unknown>): Promise<void> {
    try {
      await requestJson(this.config, "POST", agentUrl(this.config, "recording/events"), {
        type,
        data,
      });
    } catch (error) {
      console.warn(`could not record ${type}:`, error);
    }
  }
}
