// The "saved" indicator. Every edit is saved by the agent as soon as it arrives (its update log
// is on disk, the file follows within a second), so "saved" means: nothing of ours is waiting
// to be sent. Offline, edits wait in the browser and go out on reconnection.
import type { WebsocketProvider } from "y-websocket";
import type * as Y from "yjs";

type SavedState = "saved" | "saving" | "offline";

const DETAILS: Record<SavedState, string> = {
  saved: "Everything you typed is saved in the workspace.",
  saving: "Sending your last edits to the workspace.",
  offline: "Offline: your edits are kept here and saved when the connection is back.",
};

const LABELS: Record<SavedState, string> = {
  saved: "✓ Saved",
  saving: "Saving…",
  offline: "⚠ Offline: edits kept",
};

export class SavedIndicator {
  private doc: Y.Doc | null = null;
  private provider: WebsocketProvider | null = null;
  private pending = false;
  private online = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly onUpdate = (_update: Uint8Array, origin: unknown): void => {
    // Updates that came from the server are not ours to save.
    if (origin === this.provider) return;
    this.pending = true;
    this.schedule();
  };

  constructor(private readonly element: HTMLElement) {
    element.setAttribute("role", "status");
    element.setAttribute("aria-live", "polite");
    this.render();
  }

  bind(doc: Y.Doc, provider: WebsocketProvider): void {
    this.doc?.off("update", this.onUpdate);
    this.doc = doc;
    this.provider = provider;
    doc.on("update", this.onUpdate);
    this.render();
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) this.schedule();
    this.render();
  }

  /** Ctrl-S: nothing to do, but say so visibly. */
  flash(): void {
    this.element.classList.remove("is-flash");
    void this.element.offsetWidth;
    this.element.classList.add("is-flash");
    this.schedule();
  }

  private schedule(): void {
    this.render();
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const socket = (this.provider as unknown as { ws: WebSocket | null } | null)?.ws;
      if (this.online && socket && socket.readyState === WebSocket.OPEN && socket.bufferedAmount === 0) {
        this.pending = false;
        this.render();
      } else if (this.pending) {
        this.schedule();
      }
    }, 300);
  }

  private state(): SavedState {
    if (!this.online) return "offline";
    return this.pending ? "saving" : "saved";
  }

  private render(): void {
    const state = this.state();
    this.element.dataset.state = state;
    this.element.textContent = LABELS[state];
    this.element.title = DETAILS[state];
  }
}
