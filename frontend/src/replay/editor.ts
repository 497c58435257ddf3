// The replay page's code view: a read-only CodeMirror with the file's language, line numbers,
// search (Ctrl/Cmd-F) and the last edit marked. The page's own script (static/js/pages/
// replay.js) imports this bundle and calls show() for every moment it renders; everything
// else on the page is plain DOM.
import { defaultKeymap } from "@codemirror/commands";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  EditorView,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";

import { installCspStyleShim } from "../ide/csp-styles";
import { extensionOf, languageFor } from "../ide/languages";

export interface Change {
  from: number;
  to: number;
}

const setChange = StateEffect.define<Change | null>();

const changeField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setChange)) return decorate(transaction.state, effect.value);
    }
    return marks.map(transaction.changes);
  },
  provide: (field) => EditorView.decorations.from(field),
});

function decorate(state: EditorState, change: Change | null): DecorationSet {
  if (!change) return Decoration.none;
  const size = state.doc.length;
  const from = Math.min(Math.max(0, change.from), size);
  const to = Math.min(Math.max(from, change.to), size);
  const builder = new RangeSetBuilder<Decoration>();
  const line = state.doc.lineAt(from);
  builder.add(line.from, line.from, Decoration.line({ class: "cm-replay-changed-line" }));
  if (to > from) builder.add(from, to, Decoration.mark({ class: "cm-replay-change" }));
  return builder.finish();
}

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "0.82rem" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
  ".cm-replay-changed-line": { backgroundColor: "#fff7d6" },
  ".cm-replay-change": { backgroundColor: "#fde68a", borderRadius: "2px" },
});

export class CodeView {
  readonly view: EditorView;
  private readonly language = new Compartment();
  private languageKey: string | null = null;
  private path: string | null = null;

  constructor(parent: HTMLElement) {
    installCspStyleShim();
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        extensions: [
          lineNumbers(),
          highlightSpecialChars(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          highlightSelectionMatches(),
          EditorState.readOnly.of(true),
          EditorView.editable.of(false),
          EditorView.contentAttributes.of({ "aria-label": "The file at this moment (read-only)" }),
          keymap.of([...searchKeymap, ...defaultKeymap]),
          this.language.of([]),
          changeField,
          theme,
        ],
      }),
    });
  }

  /** Show `text` for `path`, marking `change`; `follow` scrolls it into view. */
  show(path: string | null, text: string, change: Change | null, follow: boolean): void {
    const samePath = path === this.path;
    this.path = path;
    const current = this.view.state.doc.toString();
    const effects: StateEffect<unknown>[] = [setChange.of(null)];
    const update = current === text ? {} : { changes: { from: 0, to: current.length, insert: text } };
    this.view.dispatch({ ...update, effects });
    this.view.dispatch({ effects: setChange.of(change) });
    if (change && (follow || !samePath)) {
      const at = Math.min(change.from, this.view.state.doc.length);
      this.view.dispatch({ effects: EditorView.scrollIntoView(at, { y: "center" }) });
    } else if (!samePath) {
      this.view.scrollDOM.scrollTop = 0;
    }
    void this.loadLanguage(path);
  }

  text(): string {
    return this.view.state.doc.toString();
  }

  private async loadLanguage(path: string | null): Promise<void> {
    const key = path ? extensionOf(path) : "";
    if (key === this.languageKey) return;
    this.languageKey = key;
    const support = path ? await languageFor(path) : [];
    if (this.languageKey === key) {
      this.view.dispatch({ effects: this.language.reconfigure(support) });
    }
  }
}

export function createCodeView(parent: HTMLElement): CodeView {
  return new CodeView(parent);
}
