// A CodeMirror language for a file, chosen by its extension and loaded on first use.
//
// Each language is a separate chunk (esbuild code splitting), so the IDE's entry bundle stays
// small and a Python interview never downloads the SQL or Markdown parsers.
import type { Extension } from "@codemirror/state";

type Loader = () => Promise<Extension>;

const python: Loader = async () => (await import("@codemirror/lang-python")).python();
const javascript =
  (options: { jsx?: boolean; typescript?: boolean }): Loader =>
  async () =>
    (await import("@codemirror/lang-javascript")).javascript(options);
const sql: Loader = async () => (await import("@codemirror/lang-sql")).sql();
const json: Loader = async () => (await import("@codemirror/lang-json")).json();
const markdown: Loader = async () => (await import("@codemirror/lang-markdown")).markdown();
const html: Loader = async () => (await import("@codemirror/lang-html")).html();
const css: Loader = async () => (await import("@codemirror/lang-css")).css();

const BY_EXTENSION: Record<string, Loader> = {
  py: python,
  pyi: python,
  js: javascript({}),
  mjs: javascript({}),
  cjs: javascript({}),
  jsx: javascript({ jsx: true }),
  ts: javascript({ typescript: true }),
  mts: javascript({ typescript: true }),
  cts: javascript({ typescript: true }),
  tsx: javascript({ jsx: true, typescript: true }),
  sql,
  json,
  md: markdown,
  markdown,
  html,
  htm: html,
  css,
};

export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** The language support for `path`, or none (plain text) for unknown extensions. */
export async function languageFor(path: string): Promise<Extension> {
  const load = BY_EXTENSION[extensionOf(path)];
  return load ? load() : [];
}
