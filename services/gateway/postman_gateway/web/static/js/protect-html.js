// The HTML of a password-protected message, in the browser: the officer's message with its {{ key }} tags filled in
// from a row of the file (values HTML-escaped), and DOMPurify's sanitising, with the same allowlist as the emails
// (lib/postman_shared/email_html.py), applied when the message is made and again when it is shown. Also what the
// page's CSP would refuse is removed rather than left to be blocked: style attributes and elements, and images from
// other sites. Needs purify.min.js; exposed as PostmanProtectHtml.
(function (root) {
  "use strict";
  var OPEN = "{{";
  var CLOSE = "}}";
  var KEY = /^[\p{L}\p{N}\p{M}_]+$/u;  // word characters, as the renderer's \w (Unicode letters count)

  var ALLOWED_TAGS = ["p", "br", "a", "b", "strong", "i", "em", "u", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5",
                      "h6", "table", "tr", "td", "th", "thead", "tbody", "img", "span", "div", "blockquote", "hr"];
  var ALLOWED_ATTR = ["href", "title", "target", "src", "alt", "width", "height", "align", "valign", "border",
                      "cellpadding", "cellspacing", "colspan", "rowspan", "bgcolor"];
  var TARGETS = ["_blank", "_self", "_parent", "_top"];
  var ALLOWED_URI = /^(?:(?:https?|mailto|tel):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;
  var WRAPPERS = ["html", "head", "body"];  // DOMPurify's own document around the message, reported as removed
  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#x27;" };

  function TemplateError(message) {
    this.name = "TemplateError";
    this.message = message;
  }
  TemplateError.prototype = Object.create(Error.prototype);
  TemplateError.prototype.constructor = TemplateError;

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (character) { return ESCAPES[character]; });
  }

  function excerpt(text, start) {
    var end = text.indexOf(CLOSE, start);
    end = end < 0 ? Math.min(text.length, start + 40) : Math.min(end + CLOSE.length, start + 40);
    return text.slice(start, end);
  }

  // {literals, slots (lower-cased keys in order), keys (each once)}; throws TemplateError, as the renderer's parse.
  function parse(text) {
    var literals = [];
    var slots = [];
    var position = 0;
    for (;;) {
      var start = text.indexOf(OPEN, position);
      if (start < 0) {
        literals.push(text.slice(position));
        break;
      }
      var inner = start + OPEN.length;
      if (text.charAt(inner) === "{") {
        throw new TemplateError("The tag \"" + excerpt(text, start) + "\" has three braces: use exactly two on each " +
                                "side, like {{ name }}");
      }
      var close = text.indexOf(CLOSE, inner);
      var reopen = text.indexOf(OPEN, inner);
      if (close < 0 || (reopen >= 0 && reopen < close)) {
        throw new TemplateError("The tag \"" + excerpt(text, start) + "\" is not closed: end it with }}");
      }
      var key = text.slice(inner, close).trim();
      if (!key) { throw new TemplateError("The tag \"" + text.slice(start, close + 2) + "\" is empty: put a key inside, like {{ name }}"); }
      if (!KEY.test(key)) {
        throw new TemplateError("The tag \"" + text.slice(start, close + 2) + "\" is not a key: keys may contain " +
                                "only letters, digits and underscores");
      }
      literals.push(text.slice(position, start));
      slots.push(key.toLowerCase());
      position = close + CLOSE.length;
    }
    var keys = slots.filter(function (key, index) { return slots.indexOf(key) === index; });
    return { literals: literals, slots: slots, keys: keys };
  }

  // The template with each tag replaced by its HTML-escaped value (values: lower-case key -> text).
  function render(template, values) {
    var out = [template.literals[0]];
    for (var i = 0; i < template.slots.length; i += 1) {
      var value = values[template.slots[i]];
      out.push(escapeHtml(value === undefined || value === null ? "" : value));
      out.push(template.literals[i + 1]);
    }
    return out.join("");
  }

  var hooked = false;

  function install(purify) {
    if (hooked) { return; }
    hooked = true;
    purify.addHook("afterSanitizeAttributes", function (node) {
      if (node.nodeName === "A") {
        var target = node.getAttribute("target");
        if (target !== null && TARGETS.indexOf(target) < 0) { node.removeAttribute("target"); }
        if (node.hasAttribute("href")) { node.setAttribute("rel", "noopener noreferrer"); }
      } else if (node.hasAttribute && node.hasAttribute("target")) {
        node.removeAttribute("target");
      }
      if (node.nodeName === "IMG" && node.hasAttribute("src")) {
        // The page's CSP loads images from this site and data: URIs only; others would be blocked anyway.
        var src = node.getAttribute("src").trim();
        if (!/^data:image\//i.test(src)) { node.removeAttribute("src"); }
      }
    });
  }

  function sanitise(html) {
    var purify = root.DOMPurify;
    if (!purify || !purify.isSupported) { throw new Error("DOMPurify is not available"); }
    install(purify);
    return purify.sanitize(html, { ALLOWED_TAGS: ALLOWED_TAGS, ALLOWED_ATTR: ALLOWED_ATTR,
                                   ALLOWED_URI_REGEXP: ALLOWED_URI, ALLOW_DATA_ATTR: false, ALLOW_ARIA_ATTR: false });
  }

  // The officer's message, sanitised once before any row is written: {html, removed (what was taken out, said for a
  // person)}. Rendering every row from the cleaned message means the rows' HTML never holds what the page's CSP
  // refuses (a style or event handler attribute is refused, and reported, while it is parsed, even by DOMPurify's
  // inert document), and the officer is told what went. Each row is sanitised again all the same.
  function clean(html) {
    var purify = root.DOMPurify;
    var cleaned = sanitise(html);
    var removed = [];
    (purify.removed || []).forEach(function (item) {
      var what = null;
      if (item.attribute && item.attribute.name) {
        var name = item.attribute.name.toLowerCase();
        if (name.indexOf("on") === 0) { what = "event handlers (" + name + ")"; }
        else if (name === "href" || name === "src") { what = "links that are not web, email or phone addresses"; }
        else { what = "the " + name + " attribute"; }
      } else if (item.element && item.element.nodeType === 1) {
        var tag = item.element.nodeName.toLowerCase();
        if (WRAPPERS.indexOf(tag) < 0) { what = "<" + tag + ">"; }
      }
      if (what && removed.indexOf(what) < 0) { removed.push(what); }
    });
    return { html: cleaned, removed: removed };
  }

  // The message as a fragment to put in the page: sanitised, never parsed by innerHTML unsanitised.
  function fragment(html) {
    var purify = root.DOMPurify;
    install(purify);
    return purify.sanitize(html, { ALLOWED_TAGS: ALLOWED_TAGS, ALLOWED_ATTR: ALLOWED_ATTR,
                                   ALLOWED_URI_REGEXP: ALLOWED_URI, ALLOW_DATA_ATTR: false, ALLOW_ARIA_ATTR: false,
                                   RETURN_DOM_FRAGMENT: true });
  }

  root.PostmanProtectHtml = {
    TemplateError: TemplateError,
    escapeHtml: escapeHtml,
    parse: parse,
    render: render,
    sanitise: sanitise,
    clean: clean,
    fragment: fragment
  };
})(window);
