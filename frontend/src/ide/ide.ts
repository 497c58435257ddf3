// The IDE page: lays out the panes and wires the shared document, the editor, the file tree and
// tabs, the terminal, runs, tests, chat, notes, the countdown and the end of the session.
//
// Layout: a top bar (title, people, saved state, mode switch, Run, Stop, Run tests, countdown,
// submit); files | editor over the bottom panel (terminal, output, tests) | side panel
// (instructions, chat, notes). Panes are resized with splitters and collapsed from their headers.
import type * as Y from "yjs";

import { ActivityReporter } from "./activity";
import { ChatPanel } from "./chat";
import { CollabSession, type Mode, type StatusEvent } from "./collab";
import type { IdeConfig } from "./config";
import { confirmAction } from "./dialog";
import { Editor } from "./editor";
import { FileTree, sharedFiles } from "./files";
import { RequestError, requestJson } from "./http";
import { type EndKind, type InterviewView, Lifecycle, endKind } from "./lifecycle";
import { NotesPanel } from "./notes";
import { TabbedPanel, splitter } from "./panels";
import { Presence } from "./presence";
import { RunPanel } from "./runs";
import { SavedIndicator } from "./saved";
import { Tabs } from "./tabs";
import { SharedTerminal } from "./terminal";
import { TestPanel } from "./testpanel";
import { Countdown } from "./timer";

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function actionButton(label: string, className: string, testid: string): HTMLButtonElement {
  const button = el("button", className, label);
  button.type = "button";
  button.dataset.testid = testid;
  return button;
}

const ROLE_CHIPS: Record<string, string> = {
  candidate: "Candidate",
  interviewer: "Interviewer",
  spectator: "Spectator · invisible to the candidate",
};

const END_SCREENS: Record<EndKind, [string, string]> = {
  time_up: ["Time is up", "Your work was saved. Thank you!"],
  submitted: ["Your work was submitted", "Your files were saved for your interviewer. Thank you!"],
  ended: ["The session has ended", "Your work was saved."],
  revoked: ["This session was cancelled", "Your work up to now was saved."],
};

function connectionText({ status, code }: StatusEvent): string {
  switch (status) {
    case "connecting":
      return "Connecting…";
    case "connected":
      return "";
    case "reconnecting":
      return "Reconnecting… your edits are kept and sent when the connection is back.";
    case "stopped":
      return code === 4403
        ? "You cannot join this workspace."
        : `Disconnected (${code ?? "?"}). Reload the page to try again.`;
  }
}

export class Ide {
  private readonly session: CollabSession;
  private readonly editor: Editor;
  private readonly tree: FileTree;
  private readonly tabs: Tabs;
  private readonly terminal: SharedTerminal;
  private readonly runs: RunPanel;
  private readonly tests: TestPanel;
  private readonly chat: ChatPanel;
  private readonly saved: SavedIndicator;
  private readonly presence: Presence;
  private readonly countdown: Countdown;
  private readonly lifecycle: Lifecycle;
  private readonly bottom: TabbedPanel;
  private readonly side: TabbedPanel;
  private readonly banner: HTMLDivElement;
  private readonly notice: HTMLDivElement;
  private readonly toasts: HTMLDivElement;
  private readonly runButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly testButton: HTMLButtonElement;
  private readonly modeButton: HTMLButtonElement | null = null;
  private files: Y.Map<Y.Text>;
  private ended: InterviewView | null = null;
  private terminalOnline = true;

  constructor(
    private readonly root: HTMLElement,
    private readonly config: IdeConfig,
  ) {
    const staff = config.role !== "candidate";
    root.dataset.role = config.role;

    // Top bar -----------------------------------------------------------------------------
    const top = el("header", "ide-top");
    const heading = el("div", "ide-heading");
    const titles = el("div", "ide-titles");
    const title = el("h1", "ide-title", config.title);
    title.title = config.title;
    titles.append(title);
    if (config.candidateName) {
      titles.append(el("span", "ide-subtitle", `with ${config.candidateName}`));
    }
    const chip = el("span", "ide-role", ROLE_CHIPS[config.role] ?? config.role);
    chip.dataset.role = config.role;
    heading.append(titles, chip);
    const people = el("div", "ide-people-holder");
    const savedElement = el("span", "ide-saved");
    savedElement.dataset.testid = "saved";
    const actions = el("div", "ide-actions");
    if (config.role === "interviewer" && config.modeUrl) {
      this.modeButton = actionButton("Candidate can edit", "btn ide-mode", "mode-toggle");
      this.modeButton.setAttribute("aria-pressed", "false");
      this.modeButton.addEventListener("click", () => void this.toggleMode());
      actions.append(this.modeButton);
    }
    this.runButton = actionButton("▶ Run", "btn btn-primary", "run");
    this.runButton.title = "Run the open file";
    this.stopButton = actionButton("■ Stop", "btn", "stop");
    this.stopButton.disabled = true;
    this.testButton = actionButton("✓ Run tests", "btn", "run-tests");
    this.testButton.title = "Run the visible tests (Ctrl+Enter)";
    // Spectators watch: they neither run code nor have edits to save.
    if (config.role !== "spectator") actions.append(this.runButton, this.stopButton, this.testButton);
    savedElement.hidden = config.role === "spectator";
    const clock = el("div", "ide-clock");
    const clockLabel = el("span", "ide-clock-label", "Time left");
    const clockValue = el("span", "ide-clock-value");
    clockValue.dataset.testid = "countdown";
    clockValue.setAttribute("role", "timer");
    clock.append(clockLabel, clockValue);
    const end = el("div", "ide-end-actions");
    if (config.submitUrl) {
      const submit = actionButton("I’m done — submit", "btn", "submit");
      submit.addEventListener("click", () => void this.submit(submit));
      end.append(submit);
    }
    if (config.backUrl) {
      const back = el("a", "btn btn-quiet", staff ? "← Dashboard" : "Leave");
      back.href = config.backUrl;
      end.append(back);
    }
    top.append(heading, people, savedElement, actions, clock, end);

    this.notice = el("div", "ide-notice");
    this.notice.setAttribute("role", "status");
    this.notice.hidden = true;

    // Panes -------------------------------------------------------------------------------
    const main = el("div", "ide-main");
    const left = el("aside", "ide-left");
    left.setAttribute("aria-label", "Files");
    const center = el("section", "ide-center");
    const tabsHolder = el("div", "ide-tabs-holder");
    const editorPane = el("div", "ide-editor");
    editorPane.dataset.testid = "editor";
    const bottomHolder = el("div", "ide-bottom");
    const right = el("aside", "ide-right");
    right.setAttribute("aria-label", "Instructions, chat and notes");

    this.bottom = new TabbedPanel(
      bottomHolder,
      "bottom",
      [
        { id: "terminal", label: "Terminal" },
        { id: "output", label: "Output" },
        { id: "tests", label: "Tests" },
      ],
      ["Collapse the bottom panel", "Expand the bottom panel"],
    );
    const sideTabs = [
      { id: "instructions", label: "Instructions" },
      { id: "chat", label: "Chat" },
      { id: "people", label: "People" },
    ];
    if (staff) sideTabs.push({ id: "notes", label: "Private notes" });
    this.side = new TabbedPanel(right, "side", sideTabs, [
      "Collapse the side panel",
      "Expand the side panel",
    ]);

    const leftSplit = splitter({
      variable: "--ide-left",
      host: main,
      orientation: "vertical",
      direction: 1,
      initial: 220,
      min: 140,
      max: () => Math.max(160, window.innerWidth * 0.35),
      label: "Resize the file tree",
    });
    const rightSplit = splitter({
      variable: "--ide-right",
      host: main,
      orientation: "vertical",
      direction: -1,
      initial: 340,
      min: 240,
      max: () => Math.max(260, window.innerWidth * 0.45),
      label: "Resize the side panel",
    });
    const bottomSplit = splitter({
      variable: "--ide-bottom",
      host: center,
      orientation: "horizontal",
      direction: -1,
      initial: 260,
      min: 120,
      max: () => Math.max(140, window.innerHeight * 0.7),
      label: "Resize the bottom panel",
    });
    center.append(tabsHolder, editorPane, bottomSplit, bottomHolder);
    main.append(left, leftSplit, center, rightSplit, right);
    this.syncCollapsed(main, center);
    this.bottom.on("collapse", () => this.syncCollapsed(main, center));
    this.side.on("collapse", () => this.syncCollapsed(main, center));

    this.banner = el("div", "ide-banner");
    this.banner.setAttribute("role", "status");
    this.banner.hidden = true;
    this.toasts = el("div", "ide-toasts");
    this.toasts.setAttribute("aria-live", "polite");
    root.replaceChildren(top, this.notice, main, this.banner, this.toasts);

    // Instructions: rendered by the server (sanitized Markdown), moved into their tab.
    const instructions = document.getElementById("ide-instructions");
    const instructionsBody = this.side.body("instructions");
    if (instructions) {
      instructions.hidden = false;
      instructionsBody.append(instructions);
    } else {
      instructionsBody.append(el("p", "muted", "This challenge has no written instructions."));
    }

    // The shared document, the editor, the tree and the tabs ------------------------------
    this.session = new CollabSession(config, config.user);
    // The candidate's focus and pastes are part of the recording (issue 7).
    const activity = config.role === "candidate" ? new ActivityReporter(config) : null;
    this.editor = new Editor(editorPane, (path, size) => activity?.paste(path, size, "clipboard"));
    this.files = sharedFiles(this.session.doc);
    this.tabs = new Tabs(tabsHolder, `prequel.ide.${config.interviewId}.tabs`);
    this.tree = new FileTree(left, config);
    this.tree.on("open", (path) => this.open(path));
    this.tree.on("error", (message) => this.toast(message, "error"));
    this.tabs.on("select", (path) => this.open(path));
    this.tabs.on("close", (path) => {
      const next = this.tabs.close(path);
      this.showInEditor(next);
    });
    this.saved = new SavedIndicator(savedElement);
    this.presence = new Presence(
      people,
      () => this.session.identity,
      config.user.color,
    );
    const peopleTab = this.side.body("people");
    const peopleCopy = new Presence(peopleTab, () => this.session.identity, config.user.color);
    this.bindDocument(this.session.doc);
    this.session.on("doc", ({ doc }) => this.bindDocument(doc));
    this.session.on("hello", () => {
      this.presence.refreshSelf();
      peopleCopy.refreshSelf();
    });
    this.session.on("writable", () => this.applyAccess());
    this.session.on("mode", (mode) => this.showMode(mode));
    this.session.on("rejected", (notice) => this.toast(notice.message, "error"));
    this.session.on("status", (event) => this.showConnection(event));
    const bindAwareness = (): void => {
      this.presence.bind(this.session.provider.awareness);
      peopleCopy.bind(this.session.provider.awareness);
    };
    bindAwareness();
    this.session.on("doc", bindAwareness);
    this.session.on("synced", (synced) => {
      // Everyone already here arrives with the first sync; only later arrivals are news.
      if (synced) setTimeout(() => this.presence.settle(), 800);
    });
    root.dataset.status = this.session.status;

    // Terminal, runs, tests ----------------------------------------------------------------
    this.terminal = new SharedTerminal(config, this.bottom.body("terminal"));
    this.terminal.on("status", (status) => {
      this.bottom.body("terminal").dataset.status = status;
      this.terminalOnline = status === "connected";
      this.showConnection({ status: this.session.status });
    });
    this.terminal.on("error", ({ message }) => this.toast(message, "error"));
    this.bottom.on("select", () => requestAnimationFrame(() => this.terminal.refit()));
    this.bottom.on("collapse", () => requestAnimationFrame(() => this.terminal.refit()));
    this.runs = new RunPanel(this.bottom.body("output"), config);
    this.tests = new TestPanel(this.bottom.body("tests"), config);
    // Someone else's test run shows up here too: looked up when the tab is shown, and every
    // few seconds while it stays in view.
    const testsInView = (): boolean =>
      this.bottom.selected === "tests" && !this.bottom.collapsed && !document.hidden;
    this.bottom.on("select", (tab) => {
      if (tab === "tests") this.tests.refresh();
    });
    setInterval(() => {
      if (testsInView() && this.ended === null) this.tests.refresh();
    }, 4000);
    this.runButton.addEventListener("click", () => this.run());
    this.stopButton.addEventListener("click", () => {
      this.runs.stop();
      this.tests.stop();
    });
    this.testButton.addEventListener("click", () => this.runTests());
    this.runs.on("state", () => this.applyRunning());
    this.tests.on("state", () => this.applyRunning());
    this.tests.on("summary", (summary) => {
      const failed = summary.failed + summary.errors;
      this.bottom.setBadge(
        "tests",
        summary.status === "passed" ? `${summary.passed}✓` : failed > 0 ? `${failed}✗` : "!",
        summary.status === "passed" ? "ok" : "bad",
      );
    });

    // Chat and notes ----------------------------------------------------------------------
    this.chat = new ChatPanel(this.side.body("chat"), config);
    this.chat.on("unread", (count) => this.side.setBadge("chat", count > 0 ? String(count) : ""));
    const chatVisible = (): boolean => this.side.selected === "chat" && !this.side.collapsed;
    this.chat.setVisible(chatVisible());
    this.side.on("select", () => this.chat.setVisible(chatVisible()));
    this.side.on("collapse", () => this.chat.setVisible(chatVisible()));
    this.presence.on("joined", (person) => this.chat.notice(`${person.name} joined`));
    this.presence.on("left", (person) => this.chat.notice(`${person.name} left`));
    if (staff) new NotesPanel(this.side.body("notes"), config, config.user);

    // Time and the end ---------------------------------------------------------------------
    this.countdown = new Countdown(clockValue, config.deadline, config.serverNow);
    clock.hidden = config.deadline === null;
    this.countdown.on("warning", (minutes) =>
      this.toast(`${minutes} minutes left. Your work is saved as you type.`, "warning", 15000),
    );
    this.countdown.on("expired", () =>
      this.end({ status: "destroying", end_reason: "time_up", auto_destroy_at: null }),
    );
    this.lifecycle = new Lifecycle(config.eventsUrl);
    this.lifecycle.on("update", (view) => {
      if (view.status === "active") this.countdown.setDeadline(view.auto_destroy_at);
      else this.end(view);
    });

    // Keys and leaving ---------------------------------------------------------------------
    window.addEventListener("keydown", (event) => this.handleKey(event), true);
    window.addEventListener("beforeunload", (event) => {
      if (config.role === "candidate" && this.ended === null) {
        event.preventDefault();
        // Both, for every browser: the standard call and the legacy (non-empty) value.
        event.returnValue = "Your session is still running.";
      }
    });
    this.applyAccess();
    this.applyRunning();
  }

  /** The open file and its text as this browser's editor holds them. */
  editorState(): { path: string | null; text: string; writable: boolean } {
    return {
      path: this.editor.path,
      text: this.editor.view.state.doc.toString(),
      writable: this.canWrite(),
    };
  }

  // The document -------------------------------------------------------------------------

  private bindDocument(doc: Y.Doc): void {
    this.files = sharedFiles(doc);
    this.tree.bind(this.files);
    this.saved.bind(doc, this.session.provider);
    this.files.observe((event) => {
      // A rename on disk arrives as one transaction: one key gone, one key added.
      const added: string[] = [];
      const deleted: string[] = [];
      for (const [key, change] of event.changes.keys) {
        if (change.action === "add") added.push(key);
        if (change.action === "delete") deleted.push(key);
      }
      if (added.length === 1 && deleted.length === 1) this.tabs.rename(deleted[0]!, added[0]!);
      this.tabs.retain((path) => this.files.has(path));
      this.follow();
    });
    this.editor.open(null, null, null);
    this.follow();
  }

  /** Keeps the editor on an existing file: the active tab, else the first file. */
  private follow(): void {
    const current = this.editor.path;
    const wanted = this.tabs.active;
    if (wanted !== null && this.files.has(wanted)) {
      if (current !== wanted) this.showInEditor(wanted);
      return;
    }
    if (current !== null && this.files.has(current)) return;
    if (this.files.size === 0) {
      // A document still loading (or a workspace without files): the tabs wait for it.
      if (current !== null) this.editor.open(null, null, null);
      return;
    }
    const first = this.tabs.open.find((path) => this.files.has(path)) ?? this.tree.paths()[0];
    this.showInEditor(first ?? null);
  }

  private open(path: string): void {
    this.showInEditor(path);
  }

  private showInEditor(path: string | null): void {
    const text = path === null ? undefined : this.files.get(path);
    if (path !== null && text === undefined) {
      // Not in the document yet (just created): the tab waits for it.
      this.tabs.show(path);
      return;
    }
    this.tabs.show(path);
    this.editor.open(path, text ?? null, this.session.provider.awareness);
    this.tree.setActive(path);
    this.editor.setWritable(this.canWrite());
    this.runButton.disabled = path === null || this.runs.running || this.ended !== null;
  }

  // Access, mode and connection -------------------------------------------------------------

  private canWrite(): boolean {
    return this.session.writable && this.ended === null;
  }

  private applyAccess(): void {
    const writable = this.canWrite();
    this.editor.setWritable(writable);
    this.tree.setWritable(writable);
    this.terminal.setInputEnabled(this.config.role !== "spectator" && this.ended === null);
    this.root.dataset.writable = String(writable);
  }

  private showMode(mode: Mode): void {
    this.root.dataset.mode = mode;
    if (this.modeButton) {
      const observing = mode === "observe";
      this.modeButton.textContent = observing ? "👁 Observing only" : "✎ Candidate can edit";
      this.modeButton.setAttribute("aria-pressed", String(observing));
      this.modeButton.title = observing
        ? "The candidate cannot edit. Click to give them the editor back."
        : "The candidate can edit. Click so only interviewers edit.";
    }
    if (this.config.role === "candidate") {
      this.notice.textContent =
        mode === "observe"
          ? "The interviewer is driving: the editor is read-only for you for now. Run and Run tests still work."
          : "";
      this.notice.hidden = mode !== "observe";
    } else if (this.config.role === "spectator") {
      this.notice.textContent =
        "You are watching as a spectator: read-only, and the candidate does not see you.";
      this.notice.hidden = false;
    }
  }

  private async toggleMode(): Promise<void> {
    if (!this.modeButton || !this.config.modeUrl) return;
    const next: Mode = this.session.mode === "observe" ? "edit" : "observe";
    this.modeButton.disabled = true;
    try {
      await requestJson(this.config, "POST", this.config.modeUrl, { mode: next });
      this.toast(
        next === "observe" ? "The candidate now observes only." : "The candidate can edit again.",
        "info",
      );
    } catch (error) {
      this.toast(error instanceof RequestError ? error.message : String(error), "error");
    } finally {
      this.modeButton.disabled = false;
    }
  }

  private showConnection(event: StatusEvent): void {
    this.root.dataset.status = event.status;
    this.saved.setOnline(event.status === "connected");
    if (this.ended !== null) {
      this.banner.hidden = true;
      return;
    }
    let text = connectionText(event);
    if (!text && !this.terminalOnline) text = "Reconnecting the terminal…";
    this.banner.textContent = text;
    this.banner.hidden = text === "";
  }

  // Runs and tests -----------------------------------------------------------------------------

  private applyRunning(): void {
    const busy = this.runs.running || this.tests.running;
    const over = this.ended !== null;
    this.runButton.disabled = busy || over || this.editor.path === null;
    this.testButton.disabled = busy || over;
    this.stopButton.disabled = !busy;
    this.root.dataset.running = String(busy);
  }

  private run(): void {
    const path = this.editor.path;
    if (path === null || this.runs.running || this.ended !== null) return;
    this.bottom.setCollapsed(false);
    this.bottom.select("output");
    this.runs.run(path);
  }

  private runTests(): void {
    if (this.tests.running || this.runs.running || this.ended !== null) return;
    this.bottom.setCollapsed(false);
    this.bottom.select("tests");
    this.tests.runTests();
  }

  private handleKey(event: KeyboardEvent): void {
    const mod = event.ctrlKey || event.metaKey;
    if (!mod) return;
    if (event.key === "s" || event.key === "S") {
      // The work is always saved; the browser's "save page" dialog would only confuse.
      event.preventDefault();
      this.saved.flash();
    } else if (event.key === "Enter") {
      event.preventDefault();
      event.stopPropagation();
      this.runTests();
    }
  }

  // Submit and the end -------------------------------------------------------------------------

  private async submit(button: HTMLButtonElement): Promise<void> {
    if (!this.config.submitUrl || this.ended !== null) return;
    const ok = await confirmAction(
      "Submit your work now?",
      "The test ends now: your files are saved for your interviewer and this workspace closes. You cannot change anything afterwards.",
      "Submit and end the test",
    );
    if (!ok) return;
    button.disabled = true;
    try {
      await requestJson(this.config, "POST", this.config.submitUrl, {});
      this.end({ status: "destroying", end_reason: "submitted", auto_destroy_at: null });
    } catch (error) {
      button.disabled = false;
      this.toast(
        error instanceof RequestError ? error.message : "Your work could not be submitted.",
        "error",
      );
    }
  }

  private end(view: InterviewView): void {
    if (this.ended !== null) return;
    this.ended = view;
    this.countdown.finish(endKind(view) === "time_up" ? "Time is up" : "Ended");
    this.runs.stop();
    this.tests.stop();
    this.applyAccess();
    this.applyRunning();
    this.banner.hidden = true;
    this.root.dataset.ended = endKind(view);
    const [heading, message] = END_SCREENS[endKind(view)];
    const overlay = el("div", "ide-overlay");
    overlay.dataset.testid = "end-screen";
    const card = el("div", "ide-overlay-card");
    card.setAttribute("role", "alertdialog");
    card.setAttribute("aria-live", "assertive");
    const title = el("h2", "", heading);
    const text = el("p", "", message);
    const hint = el(
      "p",
      "muted",
      this.config.role === "candidate"
        ? "The editor is read-only now. You can close this tab."
        : "The final files are kept in the interview's history.",
    );
    const dismiss = actionButton("Look at the code (read-only)", "btn", "end-dismiss");
    dismiss.addEventListener("click", () => {
      overlay.hidden = true;
    });
    card.append(title, text, hint, dismiss);
    if (this.config.role !== "candidate") {
      const link = el("a", "btn btn-primary", "Open the interview's page");
      link.href = `/interviews/${encodeURIComponent(this.config.interviewId)}`;
      card.append(link);
    }
    overlay.append(card);
    this.root.append(overlay);
    dismiss.focus();
  }

  // Toasts -------------------------------------------------------------------------------------

  private toast(message: string, tone: "info" | "error" | "warning", ms = 6000): void {
    const toast = el("div", `ide-toast is-${tone}`, message);
    toast.setAttribute("role", tone === "error" ? "alert" : "status");
    this.toasts.append(toast);
    setTimeout(() => toast.remove(), ms);
  }

  private syncCollapsed(main: HTMLElement, center: HTMLElement): void {
    main.dataset.side = this.side.collapsed ? "collapsed" : "open";
    center.dataset.bottom = this.bottom.collapsed ? "collapsed" : "open";
    requestAnimationFrame(() => this.terminal?.refit());
  }
}
