// The template editor, enhanced: a live preview as the officer types (the form is posted to the page's preview
// address, which answers with the preview part of the page, rendered and escaped by the server as on a reload),
// and for SMS the length as written, counted the way the renderer counts it (postman_renderer/sms.py).
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form || !window.fetch || !window.FormData) { return; }
  var preview = document.getElementById("preview");
  var url = form.getAttribute("data-preview-url");
  var channel = form.getAttribute("data-channel");
  var body = document.getElementById("body");
  var length = document.getElementById("sms-length");
  var timer = null;
  var asked = 0;

  function refresh() {
    var ask = ++asked;
    var data = new FormData(form);
    data.set("intent", "preview");
    fetch(url, { method: "POST", body: data, credentials: "same-origin",
                 headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the latest answer counts: an older one arriving late must not replace it.
        if (html !== null && ask === asked) { preview.innerHTML = html; }
      })
      .catch(function () { /* the Preview button still works */ });
  }

  // GSM 03.38: the basic set, and the extension characters that take two septets.
  var GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
                  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXTENSION = "|^€{}[]~\\\f";

  // The text as the renderer measures it: <br> as a new line, one \n per line break, tabs as spaces, other
  // control characters removed, no white space around it.
  function cleaned(text) {
    return text.replace(/<br\s*\/?>/gi, "\n")
      .replace(/\r\n?|[\u0085\u2028\u2029]/g, "\n")
      .replace(/\t/g, " ")
      .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, "")
      .trim();
  }

  function measure(text) {
    var characters = Array.from(text);  // code points: a surrogate pair is one character here
    var gsm = characters.every(function (c) { return GSM_BASIC.indexOf(c) >= 0 || GSM_EXTENSION.indexOf(c) >= 0; });
    var wide = function (c) { return gsm ? GSM_EXTENSION.indexOf(c) >= 0 : c.length > 1; };
    var units = 0;
    var doubled = 0;
    characters.forEach(function (c) { var w = wide(c) ? 2 : 1; units += w; doubled += w - 1; });
    var single = gsm ? 160 : 70;
    var part = gsm ? 153 : 67;
    var segments;
    if (units <= single) {
      segments = 1;
    } else if (!doubled) {
      segments = Math.ceil(units / part);
    } else {  // a two-unit character never straddles two parts
      segments = 1;
      var used = 0;
      characters.forEach(function (c) {
        var w = wide(c) ? 2 : 1;
        if (used + w > part) { segments += 1; used = 0; }
        used += w;
      });
    }
    return { encoding: gsm ? "GSM-7" : "UCS-2", characters: units, segments: segments };
  }

  function updateLength() {
    if (!length || !body) { return; }
    var m = measure(cleaned(body.value));
    length.textContent = m.characters + " characters in " + m.encoding + ": " + m.segments + " SMS " +
      (m.segments === 1 ? "part" : "parts") + " as written, before the recipients’ values are put in.";
    length.hidden = false;
  }

  form.addEventListener("input", function () {
    if (channel === "SMS") { updateLength(); }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
  if (channel === "SMS") { updateLength(); }
})();
