// Progressive enhancement shared by every page: focus the error summary so screen readers announce it.
(function () {
  "use strict";
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
})();

// Dates the server wrote in UTC (<time datetime=... data-local>) are shown in the reader's own time zone.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var format = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric",
                                                     hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  Array.prototype.forEach.call(document.querySelectorAll("time[data-local]"), function (element) {
    var moment = new Date(element.getAttribute("datetime"));
    if (!isNaN(moment.getTime())) { element.textContent = format.format(moment); }
  });
})();
