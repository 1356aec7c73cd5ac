// Progressive enhancement shared by every page: focus the error summary so screen readers announce it.
(function () {
  "use strict";
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
})();
