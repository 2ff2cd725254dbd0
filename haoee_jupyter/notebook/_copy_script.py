"""Browser-side scripts that put a cell into the notebook: the form's "Copy as cell", and the
code of a ``-f code`` answer (see :mod:`._next_cell`).

Each runs once in the browser as a trusted output; `element` is that output's node. No
JupyterLab API is reachable from an output (window.jupyterapp exists only with
--expose-app-in-browser), so they do what a user would: a click on a cell's prompt makes it the
active cell, the notebook toolbar's "Insert a cell below" button (which acts on mousedown) adds
a cell, and a paste fills its editor. Replacing the text of a cell that already exists goes
through that cell's CodeMirror view, found from its DOM node as ``EditorView.findFromDOM`` does.

The Python side prefixes each with its constants: ``const nonce = ..., text = ...;`` and, for
the next cell, ``marker`` (how the code's first line starts) and ``created`` (when, in ms).
"""

_HELPERS = """
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (test) => {
    for (let i = 0; i < 100; i++) { const found = test(); if (found) return found; await sleep(20); }
    return null;
  };
  const activate = async (cell) => {  // as a click on its prompt: the active cell, in command mode
    if (cell.classList.contains('jp-mod-active')) return true;
    const prompt = cell.querySelector('.jp-InputPrompt') || cell;
    for (const type of ['mousedown', 'mouseup']) {
      prompt.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0 }));
    }
    return !!(await until(() => cell.classList.contains('jp-mod-active')));  // set on the next frame
  };
  const insertBelow = async (cell) => {  // the active cell's new neighbour: its editor, or null
    const panel = cell.closest('.jp-NotebookPanel');
    if (!panel || !cell.classList.contains('jp-mod-active')) return false;
    const button = panel.querySelector('.jp-NotebookPanel-toolbar [data-command="notebook:insert-cell-below"]');
    if (!button) return false;
    const next = cell.nextElementSibling;
    button.dispatchEvent(new MouseEvent('mousedown', { bubbles: true, cancelable: true, button: 0 }));
    const editor = await until(() => {
      const node = cell.nextElementSibling;
      return node && node !== next && node.classList.contains('jp-mod-active') && node.classList.contains('jp-CodeCell') && node.querySelector('.cm-content');
    });
    // The editor takes the paste (and cancels the event) once it is ready; a synthetic event
    // has no default action, so trying again cannot paste twice.
    return !!(editor && await until(() => {
      const data = new DataTransfer();
      data.setData('text/plain', text);
      const paste = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      editor.dispatchEvent(paste);
      return paste.defaultPrevented;
    }));
  };
  const editorView = (cell) => {  // CodeMirror 6 keeps its view on the content node (cmTile; cmView before 6.38)
    const content = cell && cell.querySelector('.cm-content');
    const tile = content && (content.cmTile || content.cmView);
    const root = tile && (tile.root || tile.rootView);
    const view = root && root.view;
    return view && view.state && view.state.doc && typeof view.dispatch === 'function' ? view : null;
  };
"""

COPY_SCRIPT = (
    """
(() => {
  const seen = (window.__haoeeCopied = window.__haoeeCopied || new Set());
  if (seen.has(nonce)) return;  // one action per click, however many views show this form
  seen.add(nonce);"""
    + _HELPERS
    + """
  (async () => {
    if (!(await until(() => element.isConnected))) return;
    const form = element.closest('.haoee-form');
    if (!form) return;
    const note = form.querySelector('.haoee-copy-note .widget-html-content');
    const area = form.querySelector('.haoee-copy-text textarea');
    const say = (message) => { if (note) note.textContent = message; };
    if (area) { area.readOnly = true; area.parentElement.style.display = ''; }
    let inserted = false;
    const cell = form.closest('.jp-Cell');
    try { inserted = !!cell && await activate(cell) && await insertBelow(cell); } catch (error) { console.warn('haoee: could not add the cell', error); }
    if (inserted) {
      say('Added as a new code cell below this one.');
      if (area) area.parentElement.style.display = 'none';
      return;
    }
    let copied = false;
    try { await navigator.clipboard.writeText(text); copied = true; } catch (error) { /* no permission or focus */ }
    say(copied ? 'Copied to the clipboard. Paste this into a new cell:' : 'Paste this into a new cell:');
    if (area) { area.focus(); area.select(); }
  })();
})();
"""
)

#: What the next-cell script says under the answer, by what it did.
PLACED = {
    "inserted": "The code is in the next cell.",
    "replaced": "The code is in the next cell (it replaced the code from the last run).",
    "failed": "The code could not be put in a cell here: copy it from the answer above.",
}

NEXT_CELL_SCRIPT = (
    """
(() => {
  const seen = (window.__haoeePlaced = window.__haoeePlaced || new Set());
  if (seen.has(nonce)) return;  // once, however many views show this output
  seen.add(nonce);"""
    + _HELPERS
    + """
  const say = (message) => {
    const line = document.createElement('div');
    line.className = 'haoee-code-note';
    line.style.cssText = 'color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1);';
    line.textContent = message;
    element.replaceChildren(line);
  };
  const firstLine = (cell) => {
    const view = editorView(cell);
    if (view) return view.state.doc.line(1).text;
    const line = cell.querySelector('.cm-line');
    return line ? line.textContent : '';
  };
  // The notebook reopened and trusted later renders this again: the code was placed back then.
  if (Date.now() - created > 10 * 60 * 1000) { say(PLACED.inserted); return; }
  (async () => {
    if (!(await until(() => element.isConnected))) return;
    const cell = element.closest('.jp-Cell');
    if (!cell) { say(PLACED.failed); return; }
    try {
      const below = cell.nextElementSibling;
      if (below && below.classList.contains('jp-CodeCell') && firstLine(below).startsWith(marker)) {
        const view = editorView(below);
        if (view) {
          view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
          if (view.state.doc.toString() === text) { say(PLACED.replaced); return; }
        }
        say(PLACED.failed);  // never a second copy below the first
        return;
      }
      if (await activate(cell) && await insertBelow(cell)) { say(PLACED.inserted); return; }
    } catch (error) { console.warn('haoee: could not put the code in a cell', error); }
    say(PLACED.failed);
  })();
})();
"""
)
