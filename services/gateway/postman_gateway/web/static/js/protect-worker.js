// Seals rows of a password-protected campaign (version 2) off the page's main thread: the page starts up to eight
// of these and hands each a few rows at a time, because PBKDF2 at 600,000 iterations takes a good fraction of a
// second per row.
//
// In:  {batch, iterations, rows: [{index, id, message, password}]}
// Out: {type: "sealed", batch, index, payload, accesshash, salt, iterations} for each row, then
//      {type: "done", batch}; or {type: "failed", batch, index, error} when a row cannot be sealed.
/* global importScripts, PostmanProtect */
importScripts("protect-crypto.js");

self.addEventListener("message", function (event) {
  "use strict";
  var job = event.data || {};
  var rows = job.rows || [];
  var position = 0;

  function next() {
    if (position >= rows.length) {
      self.postMessage({ type: "done", batch: job.batch });
      return;
    }
    var row = rows[position];
    position += 1;
    PostmanProtect.v2Seal(row.message, row.password, row.id, { iterations: job.iterations })
      .then(function (sealed) {
        self.postMessage({ type: "sealed", batch: job.batch, index: row.index, payload: sealed.payload,
                           accesshash: sealed.accesshash, salt: sealed.salt, iterations: sealed.iterations });
        next();
      }, function (error) {
        self.postMessage({ type: "failed", batch: job.batch, index: row.index,
                           error: String((error && error.message) || error) });
      });
  }

  next();
});
