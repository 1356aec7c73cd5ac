// A recipient opens their password-protected message (templates/protected/message.html). The password stays in
// this page: the proof is derived from it here (protect-crypto.js) and only the proof is posted, as JSON, to the
// message's open_url; the encrypted message that comes back is decrypted here and shown sanitised (protect-html.js).
//
// The answers: 200 {payload}; 403 {code: "wrong_password"}; 429 {code: "message_locked" | "rate_limit", message}
// with Retry-After (seconds); 410 {code: "message_expired"}.
(function () {
  "use strict";
  var form = document.getElementById("open-form");
  if (!form) { return; }
  var P = window.PostmanProtect;
  var H = window.PostmanProtectHtml;
  if (!P || !P.supported || !H || !window.fetch || !window.DOMPurify || !window.DOMPurify.isSupported) {
    document.getElementById("message-unsupported").hidden = false;
    return;
  }

  var version = Number(form.getAttribute("data-version"));
  var messageId = form.getAttribute("data-message-id");
  var kdf = {
    name: form.getAttribute("data-kdf-name"),
    iterations: parseInt(form.getAttribute("data-kdf-iterations"), 10),
    salt: form.getAttribute("data-kdf-salt")
  };
  var openUrl = form.getAttribute("data-open-url");
  var input = document.getElementById("password");
  var group = document.getElementById("password-group");
  var errorHolder = document.getElementById("password-error");
  var errorText = document.getElementById("password-error-text");
  var errorDetail = document.getElementById("password-error-detail");
  var summary = document.getElementById("open-errors");
  var summaryText = document.getElementById("open-errors-text");
  var button = document.getElementById("open-button");
  var status = document.getElementById("open-status");
  var title = document.title;
  var working = false;

  form.hidden = false;

  function showError(message, detail) {
    errorText.textContent = message;
    errorHolder.hidden = false;
    errorDetail.textContent = detail || "";
    errorDetail.hidden = !detail;
    summaryText.textContent = message;
    summary.hidden = false;
    group.classList.add("form-group--error");
    input.classList.add("input--error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "password-hint password-error" + (detail ? " password-error-detail" : ""));
    document.title = "Error: " + title;
    status.textContent = "";
    input.focus();
    input.select();
  }

  function clearError() {
    errorHolder.hidden = true;
    errorDetail.hidden = true;
    summary.hidden = true;
    group.classList.remove("form-group--error");
    input.classList.remove("input--error");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "password-hint");
    document.title = title;
  }

  function minutes(retryAfter) {
    var seconds = parseInt(retryAfter, 10);
    if (!(seconds > 0)) { return null; }
    return Math.max(1, Math.ceil(seconds / 60));
  }

  function expired() {
    document.getElementById("message-locked").hidden = true;
    summary.hidden = true;
    document.getElementById("message-expired").hidden = false;
    document.title = "This message has expired – Postman";
  }

  function show(message) {
    var body = document.getElementById("message-body");
    body.textContent = "";
    body.appendChild(H.fragment(message));
    input.value = "";
    document.getElementById("message-locked").hidden = true;
    summary.hidden = true;
    var opened = document.getElementById("message-opened");
    opened.hidden = false;
    document.title = "Your message – Postman";
    opened.focus();
  }

  function post(proof) {
    return fetch(openUrl, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ password_hash: proof })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        return { status: response.status, answer: answer || {}, retryAfter: response.headers.get("Retry-After") };
      });
    });
  }

  function answered(unlocked, reply) {
    var answer = reply.answer;
    if (reply.status === 200 && typeof answer.payload === "string") {
      return unlocked.open(answer.payload).then(show, function () {
        showError("The message could not be decrypted. Ask the sender to send it again.");
      });
    }
    if (reply.status === 403 && answer.code === "wrong_password") {
      showError("That password does not open this message. Check it and try again.");
    } else if (reply.status === 429) {
      var wait = minutes(reply.retryAfter);
      showError("Too many wrong passwords: try again in " +
                (wait === null ? "a few minutes" : wait + (wait === 1 ? " minute" : " minutes")) + ".",
                typeof answer.message === "string" ? answer.message : "");
    } else if (reply.status === 410 || answer.code === "message_expired") {
      expired();
    } else if (reply.status === 404) {
      showError("There is no message at this address. Check that you opened the whole link from the email.");
    } else {
      showError("The message could not be opened just now. Try again in a few minutes.");
    }
    return null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (working) { return; }
    var password = input.value;
    clearError();
    if (!password) {
      showError("Enter the password");
      return;
    }
    working = true;
    button.disabled = true;
    status.textContent = "Opening…";
    P.unlock(version, password, messageId, kdf)
      .then(function (unlocked) {
        return post(unlocked.proof).then(function (reply) { return answered(unlocked, reply); });
      })
      .catch(function () {
        showError("The message could not be opened: check your connection and try again.");
      })
      .then(function () {
        working = false;
        button.disabled = false;
        if (status.textContent === "Opening…") { status.textContent = ""; }
      });
  });
})();
