// The code editor: CodeMirror 6 bound to one Y.Text of the shared document at a time.
//
// Undo is y-codemirror's Y.UndoManager (yUndoManagerKeymap), not CodeMirror's history, so
// Ctrl-Z only undoes your own edits, never a collaborator's. Whether the editor accepts typing
// lives in a compartment that follows the agent's `writable` flag.
import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
} from "@codemirror/autocomplete";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  foldGutter,
  foldKeymap,
  indentOnInput,
  syntaxHighlighting,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import {
  EditorView,
  crosshairCursor,
  drawSelection,
  dropCursor,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import type { Awareness } from "y-protocols/awareness";
import * as Y from "yjs";

import { languageFor } from "./languages";

function baseExtensions(): Extension {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    foldGutter(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    closeBrackets(),
    autocompletion(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    keymap.of([
      ...yUndoManagerKeymap,
      ...closeBracketsKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...foldKeymap,
      ...completionKeymap,
      indentWithTab,
    ]),
  ];
}

function editable(writable: boolean): Extension {
  return [EditorState.readOnly.of(!writable), EditorView.editable.of(writable)];
}

export class Editor {
  readonly view: EditorView;
  path: string | null = null;
  private opened = 0;
  private writable = false;
  private readonly access = new Compartment();
  private readonly language = new Compartment();
  // One undo history per shared text, kept while switching files, dropped with its document.
  private undoManagers = new WeakMap<Y.Text, Y.UndoManager>();

  /** `onPaste` hears of every paste into the editor (its size in characters). */
  constructor(
    parent: HTMLElement,
    private readonly onPaste: (path: string | null, size: number) => void = () => {},
  ) {
    this.view = new EditorView({ parent, state: this.createState(null, null, null) });
  }

  /** Shows `text` (the Y.Text at `path`), or an empty read-only editor when null. */
  open(path: string | null, text: Y.Text | null, awareness: Awareness | null): void {
    this.path = path;
    this.view.setState(this.createState(path, text, awareness));
    this.opened += 1;
    if (path !== null) void this.loadLanguage(path, this.opened);
  }

  setWritable(writable: boolean): void {
    this.writable = writable;
    this.view.dispatch({ effects: this.access.reconfigure(editable(this.canEdit())) });
  }

  destroy(): void {
    this.view.destroy();
  }

  private canEdit(): boolean {
    return this.writable && this.path !== null;
  }

  private createState(
    path: string | null,
    text: Y.Text | null,
    awareness: Awareness | null,
  ): EditorState {
    const extensions: Extension[] = [
      baseExtensions(),
      EditorView.domEventHandlers({
        paste: (event) => {
          const text = event.clipboardData?.getData("text/plain") ?? "";
          this.onPaste(this.path, text.length);
          return false; // CodeMirror inserts it as usual
        },
      }),
      this.access.of(editable(this.writable && path !== null)),
      this.language.of([]),
    ];
    if (text !== null) {
      extensions.push(yCollab(text, awareness, { undoManager: this.undoManagerFor(text) }));
    }
    return EditorState.create({ doc: text?.toString() ?? "", extensions });
  }

  /** Highlighting arrives when its chunk has loaded, if the same file is still open. */
  private async loadLanguage(path: string, opened: number): Promise<void> {
    let language: Extension;
    try {
      language = await languageFor(path);
    } catch (error) {
      console.warn(`no syntax highlighting for ${path}:`, error);
      return;
    }
    if (this.opened === opened) {
      this.view.dispatch({ effects: this.language.reconfigure(language) });
    }
  }

  private undoManagerFor(text: Y.Text): Y.UndoManager {
    let manager = this.undoManagers.get(text);
    if (!manager) {
      manager = new Y.UndoManager(text);
      this.undoManagers.set(text, manager);
    }
    return manager;
  }
}
