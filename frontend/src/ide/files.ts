// The file list: the keys of the shared document's `files` map, one Y.Text per path.
import type * as Y from "yjs";

export function sharedFiles(doc: Y.Doc): Y.Map<Y.Text> {
  return doc.getMap<Y.Text>("files");
}

export class FileList {
  private readonly list: HTMLUListElement;
  private files: Y.Map<Y.Text> | null = null;
  private active: string | null = null;
  private readonly onChange = () => this.render();

  constructor(
    parent: HTMLElement,
    private readonly onOpen: (path: string) => void,
  ) {
    this.list = document.createElement("ul");
    this.list.className = "ide-file-list";
    parent.append(this.list);
    this.list.addEventListener("click", (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>("button[data-path]");
      if (button?.dataset.path) this.onOpen(button.dataset.path);
    });
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
    this.render();
  }

  paths(): string[] {
    return this.files ? [...this.files.keys()].sort() : [];
  }

  private render(): void {
    const items = this.paths().map((path) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.path = path;
      button.textContent = path;
      if (path === this.active) button.setAttribute("aria-current", "true");
      item.append(button);
      return item;
    });
    if (items.length === 0) {
      const empty = document.createElement("li");
      empty.className = "ide-empty";
      empty.textContent = "No files yet";
      items.push(empty);
    }
    this.list.replaceChildren(...items);
  }
}
