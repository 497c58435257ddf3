// Lets the editor's and terminal's libraries style themselves under the portal's CSP.
//
// The portal sends `style-src 'self'`: a <style> element's text and a `style` attribute set
// with setAttribute are refused. CodeMirror (style-mod) and xterm.js write their CSS into
// <style> elements, and y-codemirror's remote cursors set `style` attributes. Scripts may still
// style through the CSSOM (constructable stylesheets, element.style), which the CSP allows and
// which only our own scripts can reach, so this routes both there:
//
// - document.createElement("style") from a script returns an empty, hidden placeholder element
//   (Chromium checks the CSP for any <style> inserted, even an empty one); the text written to
//   it goes to a constructable CSSStyleSheet adopted by the document, taken back when the
//   placeholder is removed;
// - setAttribute("style", text) becomes `element.style.cssText = text`.
//
// The policy's protection against injected markup is unchanged: the HTML parser does not go
// through these paths.

const PLACEHOLDER = "prequel-style";
let installed = false;

function adoptInto(doc: Document, element: HTMLElement): void {
  const sheet = new CSSStyleSheet();
  let text = "";
  const detach = (): void => {
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
  };
  Object.defineProperty(element, "textContent", {
    configurable: true,
    get: () => text,
    set: (value: string | null) => {
      text = value ?? "";
      sheet.replaceSync(text);
      if (!doc.adoptedStyleSheets.includes(sheet)) {
        doc.adoptedStyleSheets = [sheet, ...doc.adoptedStyleSheets];
      }
    },
  });
  const remove = element.remove.bind(element);
  element.remove = () => {
    detach();
    remove();
  };
}

export function installCspStyleShim(): void {
  if (installed || typeof CSSStyleSheet === "undefined" || !("adoptedStyleSheets" in document)) {
    return;
  }
  installed = true;
  const createElement = Document.prototype.createElement;
  Document.prototype.createElement = function (
    this: Document,
    tagName: string,
    options?: ElementCreationOptions,
  ): HTMLElement {
    if (String(tagName).toLowerCase() !== "style") {
      return createElement.call(this, tagName, options);
    }
    const placeholder = createElement.call(this, PLACEHOLDER);
    placeholder.hidden = true;
    adoptInto(this, placeholder);
    return placeholder;
  } as typeof Document.prototype.createElement;

  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (this: Element, name: string, value: string): void {
    if (name.toLowerCase() === "style" && this instanceof HTMLElement) {
      this.style.cssText = value;
      return;
    }
    setAttribute.call(this, name, value);
  };
}
