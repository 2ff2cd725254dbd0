"""The browser side of the form's "Copy as cell": a script that adds the cell below the form.

Runs in the browser as a trusted output of the form's hidden Output widget; `element` is that
output's node. No JupyterLab API is reachable from an output (window.jupyterapp exists only with
--expose-app-in-browser), so it uses what a user would: the notebook toolbar's "Insert a cell
below" button (which acts on mousedown) and a paste into the new cell's editor.

The form prefixes it with ``const nonce = ..., text = ...;``.
"""

COPY_SCRIPT = """
(() => {
  const seen = (window.__haoeeCopied = window.__haoeeCopied || new Set());
  if (seen.has(nonce)) return;  // one action per click, however many views show this form
  seen.add(nonce);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (test) => {
    for (let i = 0; i < 100; i++) { const found = test(); if (found) return found; await sleep(20); }
    return null;
  };
  const insertBelow = async (form) => {
    const cell = form.closest('.jp-Cell'), panel = form.closest('.jp-NotebookPanel');
    if (!cell || !panel || !cell.classList.contains('jp-mod-active')) return false;
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
  (async () => {
    if (!(await until(() => element.isConnected))) return;
    const form = element.closest('.haoee-form');
    if (!form) return;
    const note = form.querySelector('.haoee-copy-note .widget-html-content');
    const area = form.querySelector('.haoee-copy-text textarea');
    const say = (message) => { if (note) note.textContent = message; };
    if (area) { area.readOnly = true; area.parentElement.style.display = ''; }
    let inserted = false;
    try { inserted = await insertBelow(form); } catch (error) { console.warn('haoee: could not add the cell', error); }
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
