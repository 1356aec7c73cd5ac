// The recipient upload, enhanced: the same form post, sent with XMLHttpRequest so a progress bar can follow the
// bytes, then the check of the file followed until it is done, when the page is shown again with the result (the
// recipients, or the file's errors with their line numbers). Without scripts the form posts and the page has a
// "Check again" link.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.fetch) { return; }
  var input = document.getElementById("file");
  var group = document.getElementById("upload-progress-group");
  var bar = document.getElementById("upload-progress");
  var label = document.getElementById("upload-progress-label");
  var button = document.getElementById("upload");
  var statusUrl = form.getAttribute("data-status-url");
  var pageUrl = form.getAttribute("action");

  function showError(message) {
    document.getElementById("file-error-text").textContent = message;
    document.getElementById("file-error").hidden = false;
    document.getElementById("file-group").classList.add("form-group--error");
    input.setAttribute("aria-describedby", "file-error");
    group.hidden = true;
    button.disabled = false;
    input.focus();
  }

  function follow() {
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("status"); } return response.json(); })
      .then(function (status) {
        if (status.processing) {
          label.textContent = "Checking the file: " + status.rows_processed + " lines so far";
          window.setTimeout(follow, 1000);
        } else {
          window.location.assign(pageUrl);
        }
      })
      .catch(function () { window.location.assign(pageUrl); });
  }

  form.addEventListener("submit", function (event) {
    if (!input.files || !input.files.length) { return; }  // the server says what to do
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("action"));
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        var percent = Math.round(progress.loaded * 100 / progress.total);
        bar.value = percent;
        label.textContent = "Uploading: " + percent + "%";
      }
    });
    request.addEventListener("load", function () {
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = null; }
      if (request.status === 202 && answer) {
        bar.removeAttribute("value");  // indeterminate while the file is checked
        label.textContent = "Checking the file";
        follow();
      } else {
        showError((answer && answer.error) || "The file could not be uploaded. Reload the page and try again.");
      }
    });
    request.addEventListener("error", function () {
      showError("The upload did not reach Postman. Check your connection and try again.");
    });
    group.hidden = false;
    bar.value = 0;
    label.textContent = "Uploading";
    button.disabled = true;
    request.send(new FormData(form));
  });

  if (document.getElementById("upload-processing")) { window.setTimeout(follow, 1000); }
})();
