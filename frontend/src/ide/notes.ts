// The interviewers' private notes: a Markdown editor on the agent's `notes` room (y-websocket
// to /collab/notes), never part of the shared document. The agent refuses candidates (4403)
// and makes it read-only for spectators; the page mounts this panel for staff only.
//
// The session may replace its Y.Doc (4409/4412: the local copy must not be merged), so the
// editor is rebuilt on each `doc` event, bound to the new document's `notes` text.
import "./notes.css";

import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import {
  EditorView,
  drawSelection,
  highlightSpecialChars,
  keymap,
  placeholder,
} from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import * as Y from "yjs";

import { CollabSession, type DocEvent, type StatusEvent } from "./collab";
import type { IdeConfig } from "./config";
import { languageFor } from "./languages";

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function editable(writable: boolean): Extension {
  return [EditorState.readOnly.of(!writable), EditorView.editable.of(writable)];
}

const STOPPED: Record<number, string> = {
  4403: "Notes are for interviewers only.",
  4400: "The notes are unavailable (the portal sent a bad identity).",
};

export class NotesPanel {
  private readonly root: HTMLElement;
  private readonly state: HTMLElement;
  private readonly view: EditorView;
  private readonly session: CollabSession;
  private readonly access = new Compartment();
  private readonly language = new Compartment();
  private markdown: Extension = [];
  private undoManager: Y.UndoManager | null = null;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(parent: HTMLElement, config: IdeConfig, user: { name: string; color: string }) {
    this.root = el("section", "ide-notes");
    this.root.setAttribute("aria-label", "Private notes");
    const header = el("div", "ide-notes-header");
    header.append(
      el("strong", "ide-notes-private", "Private"),
      document.createTextNode(" — the candidate never sees these notes"),
    );
    this.state = el("p", "ide-notes-state", "Connecting…");
    this.state.setAttribute("role", "status");
    const holder = el("div", "ide-notes-editor");
    this.root.append(header, this.state, holder);
    parent.append(this.root);

    this.view = new EditorView({ parent: holder, state: this.createState(null) });
    this.view.contentDOM.setAttribute("aria-label", "Private notes (Markdown)");

    this.session = new CollabSession(config, user, "notes");
    // The session made its first document in its constructor, before we could listen.
    this.bind({ doc: this.session.doc, provider: this.session.provider });
    this.unsubscribe.push(
      this.session.on("doc", (event) => this.bind(event)),
      this.session.on("writable", () => this.applyAccess()),
      this.session.on("hello", () => this.applyAccess()),
      this.session.on("status", (event) => this.showStatus(event)),
    );
    void this.loadMarkdown();
  }

  destroy(): void {
    for (const off of this.unsubscribe) off();
    this.undoManager?.destroy();
    this.view.destroy();
    this.session.destroy();
    this.root.remove();
  }

  private bind({ doc, provider }: DocEvent): void {
    this.undoManager?.destroy();
    const text = doc.getText("notes");
    this.undoManager = new Y.UndoManager(text);
    this.view.setState(
      this.createState(yCollab(text, provider.awareness, { undoManager: this.undoManager })),
    );
    this.applyAccess();
  }

  private createState(collab: Extension | null): EditorState {
    return EditorState.create({
      extensions: [
        highlightSpecialChars(),
        drawSelection(),
        EditorView.lineWrapping,
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        placeholder("Notes on the interview, in Markdown…"),
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap, indentWithTab]),
        this.access.of(editable(false)),
        this.language.of(this.markdown),
        collab ?? [],
      ],
    });
  }

  /** Markdown highlighting is its own chunk (languages.ts); it arrives after the editor. */
  private async loadMarkdown(): Promise<void> {
    try {
      this.markdown = await languageFor("notes.md");
    } catch (error) {
      console.warn("no Markdown highlighting for the notes:", error);
      return;
    }
    this.view.dispatch({ effects: this.language.reconfigure(this.markdown) });
  }

  private applyAccess(): void {
    const writable = this.session.writable;
    this.view.dispatch({ effects: this.access.reconfigure(editable(writable)) });
    this.root.dataset.writable = String(writable);
    if (this.session.status === "stopped") return;
    if (this.session.identity === null) return; // no hello yet: the status says why
    this.setState(
      writable ? "" : "Read only: spectators can read the notes but not change them.",
      "readonly",
    );
  }

  private showStatus(event: StatusEvent): void {
    switch (event.status) {
      case "connected":
        this.applyAccess();
        break;
      case "connecting":
      case "reconnecting":
        this.setState(
          "Reconnecting… changes are kept and sent when the connection is back.",
          "reconnecting",
        );
        break;
      case "stopped":
        this.view.dispatch({ effects: this.access.reconfigure(editable(false)) });
        this.setState(
          STOPPED[event.code ?? 0] ??
            `The notes are unavailable${event.reason ? `: ${event.reason}` : ""}.`,
          "error",
        );
        break;
    }
  }

  private setState(text: string, tone: string): void {
    this.state.textContent = text;
    this.state.dataset.tone = tone;
    this.state.hidden = text === "";
  }
}
