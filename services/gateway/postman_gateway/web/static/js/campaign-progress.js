// The campaign page while it sends: the counts and outcomes, the progress bar, the rate measured over the last polls
// and the time left, refreshed every 1.5 s until every outcome is counted or sending stops (stopped, halted); then
// the page is shown again with its final actions (resume, retry, downloads). The picture of the outcomes over time is
// fetched again every few polls. Without scripts the page has a "Refresh" link.
(function () {
  "use strict";
  var section = document.getElementById("live-progress");
  if (!section || section.getAttribute("data-finished") === "true" || !window.fetch) { return; }
  var url = section.getAttribute("data-progress-url");
  var bar = document.getElementById("progress");
  var rate = document.getElementById("progress-rate");
  var samples = [];  // {time, done} of the last polls, for the rate
  // Once the officer submits a form (stop, resume), the page is being left: a poll answering after that must not
  // reload the page, which would cancel the form's navigation and lose the notice of what was done.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; });
  var WINDOW_MS = 10000;
  // Postman's five counters (they add up to the recipients) and the outcomes they are made of; a line the page
  // does not show (an opened SMS) has no element and is skipped.
  var COUNTS = ["unsent", "sent", "delivered", "opened", "no_report", "error", "invalid", "invalid_rows",
                "hard_bounced", "soft_bounced", "complained", "blacklisted", "unsubscribed", "total"];

  function set(id, value) {
    var element = document.getElementById(id);
    if (element) { element.textContent = String(value); }
  }

  function duration(seconds) {
    if (seconds < 60) { return "less than a minute"; }
    if (seconds < 3600) { var minutes = Math.round(seconds / 60); return "about " + minutes + (minutes === 1 ? " minute" : " minutes"); }
    var hours = Math.round(seconds / 360) / 10;
    return "about " + hours + (hours === 1 ? " hour" : " hours");
  }

  function showRate(progress) {
    var now = Date.now();
    samples.push({ time: now, done: progress.done });
    while (samples.length > 2 && now - samples[0].time > WINDOW_MS) { samples.shift(); }
    if (samples.length < 2) { return; }
    var first = samples[0];
    var perSecond = (progress.done - first.done) * 1000 / (now - first.time);
    if (perSecond > 0) {
      var shown = perSecond >= 10 ? Math.round(perSecond) : Math.round(perSecond * 10) / 10;
      rate.textContent = "About " + shown + " messages a second; " + duration(progress.unsent / perSecond) + " left.";
    } else {
      rate.textContent = progress.unsent ? "Waiting for the next messages to go out." : "Recording the last results.";
    }
    rate.hidden = false;
  }

  // The picture of the outcomes over time is drawn on the server: every few polls its fragment (the SVG and its
  // table) is fetched and swapped in for the one on the page. A failed fetch leaves the last picture.
  var chartUrl = section.getAttribute("data-chart-url");
  var CHART_EVERY = 4;  // polls: about every 6 s
  var polls = 0;

  function refreshChart() {
    var figure = document.getElementById("outcome-figure");
    if (!figure || !chartUrl || !window.DOMParser) { return; }
    var open = figure.querySelector("details") && figure.querySelector("details").open;
    fetch(chartUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { if (!response.ok) { throw new Error("chart"); } return response.text(); })
      .then(function (html) {
        if (leaving) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("outcome-figure");
        var current = document.getElementById("outcome-figure");
        if (!fresh || !current) { return; }
        var details = fresh.querySelector("details");
        if (details && open) { details.open = true; }  // keep the officer's table open
        current.replaceWith(document.importNode(fresh, true));
      })
      .catch(function () {});
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("progress"); } return response.json(); })
      .then(function (progress) {
        if (leaving) { return; }
        COUNTS.forEach(function (name) {
          if (progress[name] !== undefined) { set("count-" + name.replace(/_/g, "-"), progress[name]); }
        });
        set("progress-done", progress.done);
        set("progress-valid", progress.valid);
        set("progress-percent", progress.percent);
        set("job-status", progress.status_words);
        set("status", progress.status);
        bar.max = progress.valid || 1;
        bar.value = progress.done;
        bar.textContent = progress.percent + "%";
        if (progress.finished) {
          window.location.reload();
          return;
        }
        showRate(progress);
        polls += 1;
        if (polls % CHART_EVERY === 0) { refreshChart(); }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  window.setTimeout(poll, 1000);
})();
