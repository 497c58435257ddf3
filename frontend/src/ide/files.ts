// The file tree: the keys of the shared document's `files` map (one Y.Text per path), shown as
// folders and files, with create, rename and delete.
//
// Creating and deleting a file go through the shared map (the agent creates or deletes it on
// disk, and everyone sees it at once); renames and folder operations go through the agent's
// file API, whose move keeps the text and its history (the agent follows the inode).
import * as Y from "yjs";

import { type IdeConfig, agentUrl } from "./config";
import { confirmAction, openDialog } from "./dialog";
import { Emitter } from "./events";
import { RequestError, requestJson } from "./http";

export function sharedFiles(doc: Y.Doc): Y.Map<Y.Text> {
  return doc.getMap<Y.Text>("files");
}

export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** Why `path` cannot name a new file, or null when it can. */
export function pathProblem(path: string, taken: (path: string) => boolean): string | null {
  if (path === "") return "Type a file name.";
  if (path.startsWith("/")) return "Use a path inside the workspace, without a leading /.";
  const parts = path.split("/");
  if (parts.some((part) => part === "" || part === "." || part === ".."))
    return "Folder names cannot be empty, '.' or '..'.";
  if ([...path].some((char) => char < " ")) return "Names cannot hold control characters.";
  if (parts.some((part) => new TextEncoder().encode(part).length > 255))
    return "Each name can have at most 255 bytes.";
  if (taken(path)) return `${path} already exists.`;
  return null;
}

interface Folder {
  name: string;
  path: string;
  folders: Map<string, Folder>;
  files: string[];
}

function buildTree(paths: string[]): Folder {
  const root: Folder = { name: "", path: "", folders: new Map(), files: [] };
  for (const path of paths) {
    const parts = path.split("/");
    let folder = root;
    for (const part of parts.slice(0, -1)) {
      let child = folder.folders.get(part);
      if (!child) {
        const childPath = folder.path ? `${folder.path}/${part}` : part;
        child = { name: part, path: childPath, folders: new Map(), files: [] };
        folder.folders.set(part, child);
      }
      folder = child;
    }
    folder.files.push(path);
  }
  return root;
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

export interface FileTreeEvents {
  open: string;
  error: string;
}

export class FileTree extends Emitter<FileTreeEvents> {
  private readonly list: HTMLUListElement;
  private readonly newButton: HTMLButtonElement;
  private files: Y.Map<Y.Text> | null = null;
  private active: string | null = null;
  private writable = false;
  private readonly collapsed = new Set<string>();
  private readonly onChange = (): void => this.render();

  constructor(
    parent: HTMLElement,
    private readonly config: IdeConfig,
  ) {
    super();
    const header = document.createElement("div");
    header.className = "ide-pane-header";
    const title = document.createElement("h2");
    title.textContent = "Files";
    this.newButton = document.createElement("button");
    this.newButton.type = "button";
    this.newButton.className = "ide-icon-button";
    this.newButton.textContent = "+ New";
    this.newButton.title = "New file";
    this.newButton.dataset.testid = "new-file";
    this.newButton.addEventListener("click", () => void this.createFile(""));
    header.append(title, this.newButton);
    this.list = document.createElement("ul");
    this.list.className = "ide-tree";
    this.list.setAttribute("role", "tree");
    this.list.setAttribute("aria-label", "Files");
    parent.append(header, this.list);
    this.list.addEventListener("click", (event) => this.handleClick(event));
    this.list.addEventListener("keydown", (event) => this.handleKey(event));
  }

  /** Follows `files` (a new document after a reconnection replaces the previous one). */
  bind(files: Y.Map<Y.Text>): void {
    this.files?.unobserve(this.onChange);
    this.files = files;
    files.observe(this.onChange);
    this.render();
  }

  setActive(path: string | null): void {
    this.active = path;
    // Show where the open file is.
    if (path) {
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) this.collapsed.delete(parts.slice(0, i).join("/"));
    }
    this.render();
  }

  setWritable(writable: boolean): void {
    this.writable = writable;
    this.newButton.hidden = !writable;
    this.render();
  }

  paths(): string[] {
    return this.files ? [...this.files.keys()].sort() : [];
  }

  private has(path: string): boolean {
    if (this.files?.has(path)) return true;
    const prefix = `${path}/`;
    return this.paths().some((known) => known.startsWith(prefix));
  }

  async createFile(folder: string): Promise<void> {
    if (!this.writable || !this.files) return;
    const path = await openDialog({
      title: "New file",
      message: "Folders in the path are created too (src/util.py).",
      confirmLabel: "Create",
      input: {
        label: "Path",
        value: folder ? `${folder}/` : "",
        validate: (value) => pathProblem(value, (known) => this.has(known)),
      },
    });
    if (path === null || !this.files) return;
    // The agent writes the file as soon as the key arrives.
    this.files.set(path, new Y.Text());
    this.emit("open", path);
  }

  async rename(path: string, isFolder: boolean): Promise<void> {
    if (!this.writable) return;
    const target = await openDialog({
      title: isFolder ? `Rename folder ${basename(path)}` : `Rename ${basename(path)}`,
      confirmLabel: "Rename",
      input: {
        label: "New path",
        value: path,
        validate: (value) =>
          value === path ? "Type a different name." : pathProblem(value, (known) => this.has(known)),
      },
    });
    if (target === null) return;
    try {
      await requestJson(this.config, "POST", agentUrl(this.config, "rename"), {
        from: path,
        to: target,
      });
      if (!isFolder && this.active === path) this.emit("open", target);
    } catch (error) {
      this.emit("error", error instanceof RequestError ? error.message : String(error));
    }
  }

  async remove(path: string, isFolder: boolean): Promise<void> {
    if (!this.writable || !this.files) return;
    const ok = await confirmAction(
      isFolder ? `Delete the folder ${path}?` : `Delete ${path}?`,
      isFolder
        ? "Everything in it is deleted for everyone in this workspace."
        : "The file is deleted for everyone in this workspace.",
      "Delete",
    );
    if (!ok || !this.files) return;
    if (!isFolder) {
      this.files.delete(path);
      return;
    }
    try {
      await requestJson(this.config, "DELETE", agentUrl(this.config, `files/${encodePath(path)}`));
    } catch (error) {
      this.emit("error", error instanceof RequestError ? error.message : String(error));
    }
  }

  private handleClick(event: MouseEvent): void {
    const target = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
    if (!target) return;
    const path = target.dataset.path ?? "";
    const isFolder = target.dataset.kind === "folder";
    switch (target.dataset.action) {
      case "open":
        this.emit("open", path);
        break;
      case "toggle":
        if (this.collapsed.has(path)) this.collapsed.delete(path);
        else this.collapsed.add(path);
        this.render();
        break;
      case "new":
        void this.createFile(path);
        break;
      case "rename":
        void this.rename(path, isFolder);
        break;
      case "delete":
        void this.remove(path, isFolder);
        break;
    }
  }

  private handleKey(event: KeyboardEvent): void {
    const row = (event.target as Element).closest<HTMLButtonElement>(
      'button[data-action="open"], button[data-action="toggle"]',
    );
    if (!row || !this.writable) return;
    const isFolder = row.dataset.action === "toggle";
    if (event.key === "F2") {
      event.preventDefault();
      void this.rename(row.dataset.path ?? "", isFolder);
    } else if (event.key === "Delete") {
      event.preventDefault();
      void this.remove(row.dataset.path ?? "", isFolder);
    }
  }

  private actionButton(
    action: string,
    path: string,
    kind: "file" | "folder",
    label: string,
    symbol: string,
  ): HTMLButtonElement {
    const node = document.createElement("button");
    node.type = "button";
    node.className = "ide-tree-action";
    node.dataset.action = action;
    node.dataset.path = path;
    node.dataset.kind = kind;
    node.title = label;
    node.setAttribute("aria-label", label);
    node.textContent = symbol;
    return node;
  }

  private row(
    depth: number,
    main: HTMLButtonElement,
    path: string,
    kind: "file" | "folder",
  ): HTMLLIElement {
    const item = document.createElement("li");
    item.className = `ide-tree-row depth-${Math.min(depth, 8)}`;
    item.setAttribute("role", "treeitem");
    item.append(main);
    if (this.writable) {
      const actions = document.createElement("span");
      actions.className = "ide-tree-actions";
      const name = basename(path);
      if (kind === "folder") {
        actions.append(this.actionButton("new", path, kind, `New file in ${name}`, "+"));
      }
      actions.append(
        this.actionButton("rename", path, kind, `Rename ${name}`, "✎"),
        this.actionButton("delete", path, kind, `Delete ${name}`, "✕"),
      );
      item.append(actions);
    }
    return item;
  }

  private renderFolder(folder: Folder, depth: number, items: HTMLLIElement[]): void {
    const folders = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const child of folders) {
      const open = !this.collapsed.has(child.path);
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "ide-tree-item is-folder";
      toggle.dataset.action = "toggle";
      toggle.dataset.path = child.path;
      toggle.dataset.kind = "folder";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = `${open ? "▾" : "▸"} ${child.name}`;
      items.push(this.row(depth, toggle, child.path, "folder"));
      if (open) this.renderFolder(child, depth + 1, items);
    }
    for (const path of [...folder.files].sort()) {
      const open = document.createElement("button");
      open.type = "button";
      open.className = "ide-tree-item is-file";
      open.dataset.action = "open";
      open.dataset.path = path;
      open.dataset.kind = "file";
      open.textContent = basename(path);
      open.title = path;
      if (path === this.active) open.setAttribute("aria-current", "true");
      items.push(this.row(depth, open, path, "file"));
    }
  }

  private render(): void {
    const items: HTMLLIElement[] = [];
    this.renderFolder(buildTree(this.paths()), 0, items);
    if (items.length === 0) {
      const empty = document.createElement("li");
      empty.className = "ide-empty";
      empty.textContent = this.writable ? "No files yet: create one with + New." : "No files yet";
      items.push(empty);
    }
    this.list.replaceChildren(...items);
  }
}
