// The IDE page's entry point: reads #ide-config and mounts a file list, the editor and the
// terminal into #ide. Later steps add the tree's actions, runs, tests, chat, notes and roles.
import "@xterm/xterm/css/xterm.css";
import "./ide.css";

import type * as Y from "yjs";

import { CollabSession, type StatusEvent } from "./collab";
import { readConfig } from "./config";
import { installCspStyleShim } from "./csp-styles";
import { Editor } from "./editor";
import { FileList, sharedFiles } from "./files";
import { SharedTerminal } from "./terminal";

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function statusText({ status, code }: StatusEvent): string {
  switch (status) {
    case "connecting":
      return "Connecting…";
    case "connected":
      return "";
    case "reconnecting":
      return "Reconnecting…";
    case "stopped":
      return code === 4403
        ? "You cannot join this document."
        : `Disconnected (${code ?? "?"}). Reload the page to try again.`;
  }
}

export function mount(root: HTMLElement): void {
  installCspStyleShim();
  const config = readConfig();

  const banner = element("div", "ide-banner");
  banner.setAttribute("role", "status");
  banner.hidden = true;
  const filesPane = element("nav", "ide-files");
  filesPane.setAttribute("aria-label", "Files");
  const editorPane = element("div", "ide-editor");
  const terminalPane = element("div", "ide-terminal");
  const body = element("div", "ide-body");
  body.append(filesPane, editorPane);
  root.replaceChildren(banner, body, terminalPane);

  const session = new CollabSession(config, config.user);
  const editor = new Editor(editorPane);
  let files: Y.Map<Y.Text> = sharedFiles(session.doc);

  // The file the user chose: reopened when a new document (after 4409/4412) brings it back.
  let wanted: string | null = null;
  const open = (path: string | null): void => {
    const text = path === null ? undefined : files.get(path);
    const chosen = text === undefined ? null : path;
    editor.open(chosen, text ?? null, session.provider.awareness);
    fileList.setActive(chosen);
  };
  const fileList = new FileList(filesPane, (path) => {
    wanted = path;
    open(path);
  });

  const bindDocument = (doc: Y.Doc): void => {
    files = sharedFiles(doc);
    fileList.bind(files);
    // The open file follows renames and deletions; until one is chosen, the first file opens.
    const follow = (): void => {
      const current = editor.path;
      if (current !== null && files.has(current)) return;
      const next = wanted !== null && files.has(wanted) ? wanted : (fileList.paths()[0] ?? null);
      if (next !== current) open(next);
    };
    files.observe(follow);
    open(null);
    follow();
  };

  bindDocument(session.doc);
  session.on("doc", ({ doc }) => bindDocument(doc));
  session.on("writable", (writable) => editor.setWritable(writable));
  session.on("status", (event) => {
    root.dataset.status = event.status;
    banner.textContent = statusText(event);
    banner.hidden = event.status === "connected";
  });
  root.dataset.status = session.status;

  const terminal = new SharedTerminal(config, terminalPane);
  terminal.on("status", (status) => {
    terminalPane.dataset.status = status;
  });
}

const root = document.getElementById("ide");
if (root) mount(root);
