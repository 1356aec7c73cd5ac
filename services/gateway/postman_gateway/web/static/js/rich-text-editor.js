// The email message as a rich-text editor (Squire, vendor/squire.js), an enhancement of an HTML textarea: the
// textarea stays the form's field and gets the editor's HTML on every change, so saving, the live preview
// (campaign-template.js) and the page without scripts all work on the textarea as before.
//
// A page opts in on its form: data-rich-text names the textarea (its id, which is also its name), data-allowed-html
// gives the sanitiser's allowlist and data-keys the {{key}}s to offer (web/campaign/rich_text.py writes both). The
// email template step and the saved email template's edit page do; a page holds one such form (the editor's own
// parts have fixed ids).
//
// The editor keeps only what the renderer's sanitiser keeps (postman_shared/email_html.py): every HTML that enters
// the editor (loading, pasting, inserting) and every HTML it hands to the textarea goes through DOMPurify with that
// allowlist. Links get the rel the sanitiser sets, and an address is judged with its {{key}} tags filled, as the
// sanitiser judges it, so the saved HTML is the editor's.
//
// No style attribute is ever written (the page's CSP has no 'unsafe-inline'): the toolbar offers no colour, font or
// alignment, and Squire's image resizer (which draws handles with style attributes) is switched off.
(function () {
  "use strict";
  var form = document.querySelector("form[data-rich-text]");
  var textarea = form && document.getElementById(form.getAttribute("data-rich-text"));
  if (!textarea || textarea.form !== form || textarea.nodeName !== "TEXTAREA" || !window.Squire ||
      !window.DOMPurify || !window.HTMLDialogElement) { return; }
  var field = textarea.id;
  var allowed = JSON.parse(form.getAttribute("data-allowed-html"));
  var knownKeys = JSON.parse(form.getAttribute("data-keys") || "[]");
  var LINK_REL = allowed.link_rel;
  var TAG = /\{\{\s*\w+\s*\}\}/g;
  // The sanitiser's schemes, or no scheme at all (a relative address, or an address that is a {{key}}).
  var SCHEMES = new RegExp("^(?:(?:" + allowed.url_schemes.join("|") + "):|[^a-z]|[a-z+.\\-]+(?:[^a-z+.\\-:]|$))",
                           "i");
  var URL_ATTRIBUTES = { href: true, src: true };

  // --- What the editor may hold -------------------------------------------------------------------------------
  var purify = window.DOMPurify(window);  // an instance of its own: the hooks below are this editor's only
  var allAttributes = [];
  Object.keys(allowed.attributes).forEach(function (tag) {
    allowed.attributes[tag].forEach(function (name) {
      if (allAttributes.indexOf(name) < 0) { allAttributes.push(name); }
    });
  });
  allAttributes.push("rel", "target");
  // A span the sanitiser keeps has no attribute left, so means nothing: the editor keeps its text only.
  var PURIFY_CONFIG = { ALLOWED_TAGS: allowed.tags, FORBID_TAGS: ["span"], ALLOWED_ATTR: allAttributes,
                       ALLOWED_URI_REGEXP: SCHEMES, KEEP_CONTENT: true, ALLOW_DATA_ATTR: false,
                       ALLOW_ARIA_ATTR: false };

  purify.addHook("uponSanitizeAttribute", function (node, data) {
    var tag = node.nodeName.toLowerCase();
    var name = data.attrName;
    var targets = (allowed.attribute_values[tag] || {})[name];
    if (name === "rel") {
      data.keepAttr = false;  // set again below, as the sanitiser sets it
    } else if (targets) {
      data.keepAttr = targets.indexOf(data.attrValue) >= 0;
    } else if ((allowed.attributes[tag] || []).indexOf(name) < 0) {
      data.keepAttr = false;
    } else if (URL_ATTRIBUTES[name]) {
      // As the sanitiser judges it: with every {{key}} filled with letters (java{{a}}script: is no address).
      data.keepAttr = SCHEMES.test(data.attrValue.replace(TAG, "postmantag0x").replace(/[\s\u0000-\u001f]/g, ""));
    }
  });
  purify.addHook("afterSanitizeAttributes", function (node) {
    if (node.nodeName === "A") { node.setAttribute("rel", LINK_REL); }
  });

  // Parsing HTML into any document of this page, even an inert one, has the page's CSP block (and report) its
  // style attributes, <style> elements and event handlers, though DOMPurify drops them right after. A paste from a
  // word processor is full of them: renamed first (inside tags only), they are unknown attributes that DOMPurify
  // drops with nothing to block. Not a safeguard (DOMPurify and the sanitiser are): it keeps the CSP's reports for
  // real attacks.
  var STYLE_ELEMENT = /<style\b[\s\S]*?<\/style\s*>/gi;
  var INLINE_ATTRIBUTE = /(\s)(style|on[a-z]+)(?=\s*=|\s|\/?>)/gi;
  function defused(html) {
    return html.replace(STYLE_ELEMENT, "").replace(/<[a-z][^>]*>/gi, function (tag) {
      return tag.replace(INLINE_ATTRIBUTE, "$1data-dropped-$2");
    });
  }

  function sanitised(html) {
    var fragment = purify.sanitize(defused(html), Object.assign({ RETURN_DOM_FRAGMENT: true }, PURIFY_CONFIG));
    // A link whose address was removed is its text (the sanitiser would keep an <a> with no href).
    Array.prototype.slice.call(fragment.querySelectorAll("a:not([href])")).forEach(function (link) {
      while (link.firstChild) { link.parentNode.insertBefore(link.firstChild, link); }
      link.parentNode.removeChild(link);
    });
    return fragment;  // in DOMPurify's inert document: nothing in it is fetched
  }

  function cleanFragment(html) { return document.importNode(sanitised(html), true); }

  // --- The editor ---------------------------------------------------------------------------------------------
  var label = form.querySelector('label[for="' + field + '"]');
  label.id = field + "-label";
  var wrapper = element("div", { "class": "editor" });
  var toolbar = element("div", { "class": "editor__toolbar", role: "toolbar", "aria-label": "Format the message",
                                 "aria-controls": field + "-editor" });
  var area = element("div", { "class": "editor__area textarea", id: field + "-editor", role: "textbox",
                              "aria-multiline": "true", "aria-labelledby": label.id });
  if (textarea.getAttribute("aria-describedby")) {
    area.setAttribute("aria-describedby", textarea.getAttribute("aria-describedby"));
  }
  if (textarea.classList.contains("textarea--error")) { area.classList.add("textarea--error"); }
  wrapper.appendChild(toolbar);
  wrapper.appendChild(area);
  textarea.parentNode.insertBefore(wrapper, textarea);

  var editor = new window.Squire(area, {
    blockTag: "P",
    addLinks: false,  // an address typed as text stays text: a link is made with the Link button only
    tagAttributes: { a: { rel: LINK_REL } },
    sanitizeToDOMFragment: cleanFragment,
    didError: function () { /* Squire's own diagnostics: nothing the officer can act on */ }
  });
  if (editor._imageResizer) { editor._imageResizer.destroy(); }  // draws with style attributes: see the top
  // Shortcuts to formats the sanitiser removes (code, strike-through, superscript, subscript) do nothing here;
  // Ctrl+B, I and U toggle with Caps Lock on too (Squire knows the lower-case keys only, and the browser's own
  // shortcut would then only ever add the format).
  var mod = /Mac OS X/.test(navigator.userAgent) ? "Meta-" : "Ctrl-";
  ["d", "Shift-7", "Shift-5", "Shift-6"].forEach(function (key) {
    editor.setKeyHandler(mod + key, function (self, event) { event.preventDefault(); });
  });
  [["B", "bold", "removeBold"], ["I", "italic", "removeItalic"], ["U", "underline", "removeUnderline"]]
    .forEach(function (format) {
      editor.setKeyHandler(mod + format[0], function (self, event) {
        event.preventDefault();
        toggleFormat(format[0], editor[format[1]], editor[format[2]]);
        updateState();
      });
    });
  editor.setHTML(textarea.value);  // through cleanFragment, as everything that enters the editor

  // The editor's HTML as the textarea's value: nothing when it holds no text, image or table. Cleaned in
  // DOMPurify's own inert document (no image there is fetched), with the typist's no-break spaces made spaces.
  function editorHtml() {
    if (!area.textContent.trim() && !area.querySelector("img, table, hr")) { return ""; }
    var fragment = sanitised(editor.getHTML());
    plainSpaces(fragment);
    var holder = fragment.ownerDocument.createElement("div");
    holder.appendChild(fragment);
    return holder.innerHTML;
  }

  // A space typed before a format or a field, or at the end of a line, is kept by the browser as a no-break space
  // (a plain one would not show there while typing); in the message it is an ordinary space between two words.
  var WORD_NBSP = /([^\s\u00a0])\u00a0(?=[^\s\u00a0])/g;
  function plainSpaces(root) {
    var walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      var text = node.data.replace(WORD_NBSP, "$1 ");
      var next = node.nextSibling;
      var previous = node.previousSibling;
      if (/[^\s\u00a0]\u00a0$/.test(text) && next && next.nodeName !== "BR" &&
          /^[^\s\u00a0]/.test(next.textContent)) {
        text = text.slice(0, -1) + " ";
      }
      if (/^\u00a0[^\s\u00a0]/.test(text) && previous && previous.nodeName !== "BR" &&
          /[^\s\u00a0]$/.test(previous.textContent)) {
        text = " " + text.slice(1);
      }
      if (text !== node.data) { node.data = text; }
    }
  }

  // The textarea keeps the HTML as loaded until the officer changes something in the editor (it is not rewritten
  // just because the editor would write the same content another way); nor while the officer edits the HTML itself.
  var mirrored = editorHtml();
  function mirror() {
    if (!textarea.hidden) { return; }
    var html = editorHtml();
    if (html === mirrored) { return; }
    mirrored = html;
    textarea.value = html;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));  // the live preview follows the textarea
    updateKeys();
  }
  editor.addEventListener("input", mirror);
  form.addEventListener("submit", mirror);

  // --- The toolbar: one tab stop, arrow keys between its buttons (the ARIA toolbar pattern) -------------------
  function element(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { made.setAttribute(name, attributes[name]); });
    if (text) { made.textContent = text; }
    return made;
  }

  var toggles = [];
  function button(text, action, pressed) {
    var made = element("button", { type: "button", "class": "editor__button", tabindex: "-1" }, text);
    if (pressed) {
      made.setAttribute("aria-pressed", "false");
      toggles.push({ button: made, pressed: pressed });
    }
    made.addEventListener("click", function () { action(); updateState(); });
    toolbar.appendChild(made);
    return made;
  }

  function blockIs(tag) { return editor.getPath().split(">").indexOf(tag) >= 0; }
  function setBlock(tag) {
    var to = blockIs(tag) ? "P" : tag;
    editor.modifyBlocks(function (fragment) {
      Array.prototype.slice.call(fragment.querySelectorAll("p, h2, h3, div")).forEach(function (block) {
        var replacement = document.createElement(to);
        while (block.firstChild) { replacement.appendChild(block.firstChild); }
        block.parentNode.replaceChild(replacement, block);
      });
      return fragment;
    });
    editor.focus();
  }

  button("Bold", function () { toggleFormat("B", editor.bold, editor.removeBold); }, function () {
    return editor.hasFormat("B") || editor.hasFormat("STRONG");
  });
  button("Italic", function () { toggleFormat("I", editor.italic, editor.removeItalic); }, function () {
    return editor.hasFormat("I") || editor.hasFormat("EM");
  });
  button("Underline", function () { toggleFormat("U", editor.underline, editor.removeUnderline); }, function () {
    return editor.hasFormat("U");
  });
  button("Heading", function () { setBlock("H2"); }, function () { return blockIs("H2"); });
  button("Subheading", function () { setBlock("H3"); }, function () { return blockIs("H3"); });
  button("Bulleted list", function () {
    if (blockIs("UL")) { editor.removeList(); } else { editor.makeUnorderedList(); }
    editor.focus();
  }, function () { return blockIs("UL"); });
  button("Numbered list", function () {
    if (blockIs("OL")) { editor.removeList(); } else { editor.makeOrderedList(); }
    editor.focus();
  }, function () { return blockIs("OL"); });
  button("Link", function () { linkDialog.open(); });
  button("Table", function () { tableDialog.open(); });
  button("Image", function () { imageDialog.open(); });
  toolbar.firstChild.setAttribute("tabindex", "0");

  function toggleFormat(tag, on, off) {
    if (editor.hasFormat(tag)) { off.call(editor); } else { on.call(editor); }
    editor.focus();
  }

  function updateState() {
    toggles.forEach(function (toggle) {
      toggle.button.setAttribute("aria-pressed", toggle.pressed() ? "true" : "false");
    });
  }
  editor.addEventListener("pathChange", updateState);
  editor.addEventListener("select", updateState);

  toolbar.addEventListener("keydown", function (event) {
    var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
    var at = buttons.indexOf(document.activeElement);
    var to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (at < 0 || to === undefined) { return; }
    event.preventDefault();
    to = (to + buttons.length) % buttons.length;
    buttons[at].setAttribute("tabindex", "-1");
    buttons[to].setAttribute("tabindex", "0");
    buttons[to].focus();
  });

  // --- Inserting a {{key}} --------------------------------------------------------------------------------------
  var fields = element("div", { "class": "editor__fields" });
  var fieldLabel = element("label", { "class": "label", "for": "insert-field" }, "Insert a field");
  var fieldHint = element("div", { "class": "hint", id: "insert-field-hint" },
                          "A column of the recipient file: each recipient gets their own value in its place.");
  var select = element("select", { "class": "select editor__select", id: "insert-field",
                                   "aria-describedby": "insert-field-hint" });
  var insert = element("button", { type: "button", "class": "button button--secondary" }, "Insert field");
  [fieldLabel, fieldHint, select, insert].forEach(function (part) { fields.appendChild(part); });
  wrapper.appendChild(fields);

  function updateKeys() {
    var keys = knownKeys.slice();
    (textarea.value.match(TAG) || []).forEach(function (tag) {
      var key = tag.replace(/[{}\s]/g, "");
      if (keys.indexOf(key) < 0) { keys.push(key); }
    });
    var chosen = select.value;
    select.textContent = "";
    keys.forEach(function (key) { select.appendChild(element("option", { value: key }, "{{" + key + "}}")); });
    if (keys.indexOf(chosen) >= 0) { select.value = chosen; }
  }
  updateKeys();
  insert.addEventListener("click", function () {
    if (!select.value) { return; }
    editor.focus();
    editor.insertPlainText("{{" + select.value + "}}", false);
  });

  // --- The HTML itself, for an officer who wants it -------------------------------------------------------------
  var source = element("button", { type: "button", "class": "link-button editor__source", "aria-pressed": "false" },
                       "Edit the HTML");
  textarea.parentNode.insertBefore(source, textarea.nextSibling);
  textarea.hidden = true;
  source.addEventListener("click", function () {
    var showing = textarea.hidden;
    if (!showing) { editor.setHTML(textarea.value); mirrored = editorHtml(); }
    textarea.hidden = !showing;
    wrapper.hidden = showing;
    source.setAttribute("aria-pressed", showing ? "true" : "false");
    (showing ? textarea : area).focus();
  });
  label.addEventListener("click", function (event) {
    if (textarea.hidden) { event.preventDefault(); editor.focus(); }
  });
  // The error summary's link to the message leads to the editor while the textarea is hidden.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href="#' + field + '"]');
    if (link && textarea.hidden) { event.preventDefault(); editor.focus(); area.scrollIntoView(); }
  });

  // --- The small forms behind Link, Table and Image -------------------------------------------------------------
  function dialog(title, inputs, submitText, apply) {
    var box = element("dialog", { "class": "editor__dialog", "aria-labelledby": title.id });
    var dialogForm = element("form", { method: "dialog", novalidate: "" });
    dialogForm.appendChild(element("h2", { id: title.id, "class": "editor__dialog-title" }, title.text));
    var error = element("p", { "class": "error-message", id: title.id + "-error", role: "alert" });
    error.hidden = true;
    dialogForm.appendChild(error);
    var fieldsById = {};
    inputs.forEach(function (spec) {
      var group = element("div", { "class": "form-group" });
      group.appendChild(element("label", { "class": "label", "for": spec.id }, spec.label));
      if (spec.hint) { group.appendChild(element("div", { "class": "hint", id: spec.id + "-hint" }, spec.hint)); }
      var input = element("input", Object.assign({ "class": "input", id: spec.id, name: spec.id,
                                                   autocomplete: "off" }, spec.attributes || {}));
      if (spec.hint) { input.setAttribute("aria-describedby", spec.id + "-hint"); }
      group.appendChild(input);
      dialogForm.appendChild(group);
      fieldsById[spec.id] = input;
    });
    var buttons = element("div", { "class": "button-group" });
    var ok = element("button", { type: "submit", "class": "button", value: "ok" }, submitText);
    var cancel = element("button", { type: "button", "class": "button button--secondary" }, "Cancel");
    buttons.appendChild(ok);
    buttons.appendChild(cancel);
    dialogForm.appendChild(buttons);
    box.appendChild(dialogForm);
    document.body.appendChild(box);

    var range = null;
    cancel.addEventListener("click", function () { box.close(); });
    box.addEventListener("close", function () { editor.focus(); });
    dialogForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var values = {};
      Object.keys(fieldsById).forEach(function (id) { values[id] = fieldsById[id].value.trim(); });
      var problem = apply.check(values);
      if (problem) {
        error.textContent = problem.message;
        error.hidden = false;
        fieldsById[problem.field].setAttribute("aria-invalid", "true");
        fieldsById[problem.field].focus();
        return;
      }
      box.close();
      editor.focus();
      editor.setSelection(range);
      apply.run(values);
      editor.focus();
      mirror();
    });
    return {
      open: function () {
        range = editor.getSelection();
        error.hidden = true;
        Object.keys(fieldsById).forEach(function (id) {
          var input = fieldsById[id];
          input.value = input.getAttribute("data-default") || "";
          input.removeAttribute("aria-invalid");
        });
        if (apply.prefill) { apply.prefill(fieldsById, range); }
        box.showModal();
      }
    };
  }

  var linkDialog = dialog({ id: "link-dialog-title", text: "Add a link" }, [
    { id: "link-url", label: "Link address", hint: "A web address (https://…) or an email address (mailto:…).",
      attributes: { type: "url", spellcheck: "false" } },
    { id: "link-text", label: "Text to show (optional)", hint: "The selected text, if you leave it empty." }
  ], "Add link", {
    prefill: function (inputs, range) { inputs["link-text"].value = range.toString(); },
    check: function (values) {
      if (!/^(?:https?:\/\/[^\s/]+\S*|mailto:[^\s@]+@\S+)$/i.test(values["link-url"])) {
        return { field: "link-url", message: "Enter a web address starting https:// or http://, " +
                                             "or an email address starting mailto:" };
      }
      return null;
    },
    run: function (values) {
      var url = values["link-url"];
      var text = values["link-text"];
      if (!text && !editor.getSelection().collapsed) {
        editor.makeLink(url);  // the selected text becomes the link
        return;
      }
      var link = element("a", { href: url, rel: LINK_REL }, text || url.replace(/^mailto:/i, ""));
      editor.insertHTML(link.outerHTML);  // through cleanFragment, as everything that enters the editor
    }
  });

  var tableDialog = dialog({ id: "table-dialog-title", text: "Add a table" }, [
    { id: "table-rows", label: "Rows", attributes: { type: "number", min: "1", max: "20", "data-default": "2",
                                                     inputmode: "numeric", "class": "input input--width-5" } },
    { id: "table-columns", label: "Columns", attributes: { type: "number", min: "1", max: "10", "data-default": "2",
                                                           inputmode: "numeric", "class": "input input--width-5" } }
  ], "Add table", {
    check: function (values) {
      if (!/^\d+$/.test(values["table-rows"]) || +values["table-rows"] < 1 || +values["table-rows"] > 20) {
        return { field: "table-rows", message: "Enter a number of rows from 1 to 20" };
      }
      if (!/^\d+$/.test(values["table-columns"]) || +values["table-columns"] < 1 || +values["table-columns"] > 10) {
        return { field: "table-columns", message: "Enter a number of columns from 1 to 10" };
      }
      return null;
    },
    run: function (values) {
      var table = emptyTable(+values["table-rows"], +values["table-columns"]);
      editor.insertElement(table);
      var range = document.createRange();
      range.setStart(table.querySelector("td"), 0);
      range.collapse(true);
      editor.setSelection(range);  // the caret in the first cell
    }
  });

  // An empty table whose cells show as boxes in any email client (border and cellpadding: no style needed).
  function emptyTable(rows, columns) {
    var table = element("table", { border: "1", cellpadding: "8" });
    var body = table.appendChild(element("tbody"));
    for (var r = 0; r < rows; r += 1) {
      var row = body.appendChild(element("tr"));
      for (var c = 0; c < columns; c += 1) { row.appendChild(element("td")).appendChild(element("br")); }
    }
    return table;
  }

  var imageDialog = dialog({ id: "image-dialog-title", text: "Add an image" }, [
    { id: "image-url", label: "Image address", hint: "The image’s web address, starting https://",
      attributes: { type: "url", spellcheck: "false" } },
    { id: "image-alt", label: "Description of the image",
      hint: "What the image shows, for recipients who cannot see it: screen readers read it out." }
  ], "Add image", {
    check: function (values) {
      if (!/^https:\/\/[^\s/]+\S*$/i.test(values["image-url"])) {
        return { field: "image-url", message: "Enter the image’s address, starting https://" };
      }
      if (!values["image-alt"]) {
        return { field: "image-alt", message: "Describe the image" };
      }
      return null;
    },
    run: function (values) { editor.insertImage(values["image-url"], { alt: values["image-alt"] }); }
  });
})();
