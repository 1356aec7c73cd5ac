// The recipients step of a password-protected email campaign (templates/campaign/recipients_protected.html).
//
// Everything the officer gives stays in this page: the file (recipient, password, other columns) is read here with
// Papa Parse, a chunk at a time, twice: once to check it (stopping at the first ten bad lines), once to write each
// row's message (its {{ key }} tags filled with the row's values, HTML-escaped, the result sanitised with
// DOMPurify) and encrypt it with the row's password (version 2, protect-crypto.js) in up to eight Web Workers
// (protect-worker.js), because each row costs 600,000 PBKDF2 iterations. The encrypted file
// (recipient,payload,accesshash,id,salt,iterations) is then checked by decrypting its first row again, shown as a
// sample, and posted in the form's hidden input named "file" with XMLHttpRequest, as campaign-upload.js does; the
// page follows the server's check of it and shows the recipients page again when it is done.
(function () {
  "use strict";
  var form = document.getElementById("protect-form");
  if (!form) { return; }

  var P = window.PostmanProtect;
  var H = window.PostmanProtectHtml;
  var Papa = window.Papa;
  var HEADER = ["recipient", "payload", "accesshash", "id", "salt", "iterations"];
  var MAX_ERRORS = 10;
  var CHUNK_CHARACTERS = 64 * 1024;  // the file's text is parsed this much at a time
  var BATCH_ROWS = 4;               // rows handed to a worker at a time: small, so the workers finish together
  var MAX_WORKERS = 8;
  var HIGH_WATER = 2000;            // rows written and waiting for a worker before the file's reading pauses
  var NEWLINE = "\r\n";
  var DISPLAY_EVERY_MS = 250;

  var statusUrl = form.getAttribute("data-status-url");
  var pageUrl = form.getAttribute("action");

  var running = null;  // the job under way: {stopped, stop()}

  // Follows the server's check of an upload, as campaign-upload.js does, then shows the page again with its result;
  // ``wanted()`` false stops following (a new file is being encrypted: leaving would lose it).
  function follow(url, progress, wanted) {
    if (!wanted()) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("status"); } return response.json(); })
      .then(function (status) {
        if (!wanted()) { return; }
        if (status.processing) {
          if (progress) { progress(status); }
          window.setTimeout(function () { follow(url, progress, wanted); }, 1000);
        } else {
          leave(pageUrl);
        }
      })
      .catch(function () { if (wanted()) { leave(pageUrl); } });
  }

  // The check of an earlier upload is still running.
  if (document.getElementById("upload-processing")) {
    window.setTimeout(function () { follow(statusUrl, null, function () { return running === null; }); }, 1000);
  }

  var supported = P && P.supported && H && Papa && window.Worker && window.DataTransfer && window.FormData &&
    window.XMLHttpRequest && window.fetch && window.Blob && window.DOMPurify && window.DOMPurify.isSupported;
  if (!supported) {
    document.getElementById("protect-unsupported").hidden = false;
    return;
  }
  form.hidden = false;

  var fileInput = document.getElementById("file");
  var messageInput = document.getElementById("protected-message");
  var postedInput = document.getElementById("protected-file");
  var submitButton = document.getElementById("upload");
  var stopButton = document.getElementById("protect-stop");
  var summary = document.getElementById("protect-errors");
  var summaryList = document.getElementById("protect-errors-list");
  var progressGroup = document.getElementById("protect-progress-group");
  var phase = document.getElementById("protect-phase");
  var bar = document.getElementById("protect-progress");
  var count = document.getElementById("protect-count");
  var eta = document.getElementById("protect-eta");
  var sample = document.getElementById("protect-sample");
  var removedNote = document.getElementById("protect-sample-removed");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var workerUrl = form.getAttribute("data-worker-url");
  var title = document.title.replace(/^Error: /, "");

  function Stopped() { this.name = "Stopped"; this.message = "stopped"; }

  // -- What the page shows ------------------------------------------------------------------------------------

  function number(value) {
    return value.toLocaleString("en-SG");
  }

  function plural(value, one, many) {
    return number(value) + " " + (value === 1 ? one : many);
  }

  function setFieldError(field, message) {
    var input = field === "file" ? fileInput : messageInput;
    var group = field === "file" ? document.getElementById("file-group") : document.getElementById("message-group");
    var holder = document.getElementById(field === "file" ? "file-error" : "protected-message-error");
    var text = document.getElementById(field === "file" ? "file-error-text" : "protected-message-error-text");
    var hint = field === "file" ? "file-hint" : "protected-message-hint";
    text.textContent = message || "";
    holder.hidden = !message;
    group.classList.toggle("form-group--error", Boolean(message));
    input.classList.toggle(field === "file" ? "file-upload--error" : "textarea--error", Boolean(message));
    input.setAttribute("aria-describedby", message ? hint + " " + holder.id : hint);
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }

  function clearProblems() {
    summary.hidden = true;
    summaryList.textContent = "";
    setFieldError("file", "");
    setFieldError("message", "");
    document.title = title;
  }

  // problems: [{field: "file" | "message", text}]; the first of each field is also shown beside it.
  function showProblems(problems) {
    clearProblems();
    Array.prototype.forEach.call(document.querySelectorAll(".error-summary"), function (other) {
      if (other !== summary) { other.hidden = true; }  // the server's summary of an earlier post
    });
    var shown = {};
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = problem.field === "file" ? "#file" : "#protected-message";
      link.textContent = problem.text;
      item.appendChild(link);
      summaryList.appendChild(item);
      if (!shown[problem.field]) {
        shown[problem.field] = true;
        var beside = problem.text;
        var more = problems.filter(function (other) { return other.field === problem.field; }).length;
        if (problem.field === "file" && more > 1) { beside += " (and " + plural(more - 1, "more problem", "more problems") + ", listed above)"; }
        setFieldError(problem.field, beside);
      }
    });
    document.title = "Error: " + title;
    summary.hidden = false;
    summary.focus();
  }

  function setPhase(text, value) {
    progressGroup.hidden = false;
    phase.textContent = text;
    if (value === null) { bar.removeAttribute("value"); } else { bar.value = value; }
  }

  function duration(milliseconds) {
    var minutes = Math.round(milliseconds / 60000);
    if (minutes < 1) { return "less than a minute"; }
    if (minutes < 60) { return "about " + plural(minutes, "minute", "minutes"); }
    var hours = Math.floor(minutes / 60);
    var rest = minutes % 60;
    return "about " + plural(hours, "hour", "hours") + (rest ? " " + plural(rest, "minute", "minutes") : "");
  }

  function busy(on) {
    submitButton.disabled = on;
    fileInput.disabled = on;
    messageInput.readOnly = on;
    stopButton.hidden = !on;
    if (on) { window.addEventListener("beforeunload", holdOn); } else { window.removeEventListener("beforeunload", holdOn); }
  }

  function holdOn(event) {
    event.preventDefault();
    event.returnValue = "";
  }

  function leave(url) {
    window.removeEventListener("beforeunload", holdOn);
    window.location.assign(url);
  }

  // -- The file's rows --------------------------------------------------------------------------------------------

  // Physical lines a row takes beyond its first (line breaks inside quoted values), so errors name the file's line.
  function extraLines(row) {
    var extra = 0;
    for (var i = 0; i < row.length; i += 1) {
      var value = row[i];
      if (value.indexOf("\n") < 0 && value.indexOf("\r") < 0) { continue; }
      for (var j = 0; j < value.length; j += 1) {
        var character = value.charAt(j);
        if (character === "\n" || (character === "\r" && value.charAt(j + 1) !== "\n")) { extra += 1; }
      }
    }
    return extra;
  }

  function isBlank(row) {
    for (var i = 0; i < row.length; i += 1) { if (row[i].trim() !== "") { return false; } }
    return true;
  }

  // An email address, roughly, and without a regular expression that could backtrack: one "@", a local part, a
  // domain of dot-separated labels; no spaces or characters that separate addresses.
  function looksLikeEmail(value) {
    if (!value || value.length > 320) { return false; }
    var parts = value.split("@");
    if (parts.length !== 2) { return false; }
    var local = parts[0];
    var domain = parts[1];
    if (!local || local.length > 64 || !domain || domain.length > 253) { return false; }
    for (var i = 0; i < value.length; i += 1) {
      var code = value.charCodeAt(i);
      if (code <= 32 || code === 127 || ",;:<>()[]\\\"".indexOf(value.charAt(i)) >= 0) { return false; }
    }
    if (local.charAt(0) === "." || local.charAt(local.length - 1) === "." || local.indexOf("..") >= 0) { return false; }
    var labels = domain.split(".");
    if (labels.length < 2) { return false; }
    for (var k = 0; k < labels.length; k += 1) {
      var label = labels[k];
      if (!label || label.length > 63 || label.charAt(0) === "-" || label.charAt(label.length - 1) === "-") { return false; }
    }
    return true;
  }

  function quoted(value) {
    return "“" + (value.length > 60 ? value.slice(0, 60) + "…" : value) + "”";
  }

  // The header's columns, checked: {keys, recipientAt, passwordAt} or a list of problems.
  function readHeader(row, line, template) {
    var keys = row.map(function (cell) { return cell.replace(/^\ufeff/, "").trim().toLowerCase(); });
    var problems = [];
    var seen = {};
    keys.forEach(function (key, index) {
      if (!key) {
        problems.push("line " + line + ": column " + (index + 1) + " of the header has no name; give every " +
                      "column a name, or delete the empty column");
      } else if (Object.prototype.hasOwnProperty.call(seen, key)) {
        problems.push("line " + line + ": the header has the column " + quoted(key) + " twice (columns " +
                      (seen[key] + 1) + " and " + (index + 1) + "; capitals do not matter)");
      } else {
        seen[key] = index;
      }
    });
    ["recipient", "password"].forEach(function (needed) {
      if (!Object.prototype.hasOwnProperty.call(seen, needed)) {
        problems.push("line " + line + ": the file needs a column named " + quoted(needed) + "; its header has " +
                      keys.map(quoted).join(", "));
      }
    });
    template.keys.forEach(function (key) {
      if (!Object.prototype.hasOwnProperty.call(seen, key)) {
        problems.push("line " + line + ": the message uses {{" + key + "}} but the file has no column " + quoted(key) +
                      "; add the column or change the message");
      }
    });
    return problems.length ? { problems: problems } :
      { keys: keys, recipientAt: seen.recipient, passwordAt: seen.password, problems: [] };
  }

  // A data row's problems (none: an empty list).
  function rowProblems(row, line, header) {
    if (row.length !== header.keys.length) {
      return ["line " + line + " has " + plural(row.length, "value", "values") + " but the header has " +
              header.keys.length + ": check for a missing or extra comma, or a value with a comma that is not " +
              "in quotes"];
    }
    var problems = [];
    var recipient = row[header.recipientAt].trim();
    if (!recipient) {
      problems.push("line " + line + ": the recipient is empty");
    } else if (!looksLikeEmail(recipient)) {
      problems.push("line " + line + ": the recipient " + quoted(recipient) + " is not one email address");
    }
    if (row[header.passwordAt] === "") {
      problems.push("line " + line + ": the password is empty");
    } else if (row[header.passwordAt].trim() === "") {
      problems.push("line " + line + ": the password is only spaces");
    }
    for (var i = 0; i < row.length; i += 1) {
      if (row[i].indexOf("\ufffd") >= 0) {
        problems.push("line " + line + " has characters that cannot be read: save the file as UTF-8 (in Excel: " +
                      "Save As, “CSV UTF-8”) and choose it again");
        break;
      }
    }
    return problems;
  }

  // The file as text, a piece at a time, in the shape of a Node readable stream for Papa Parse: decoded from UTF-8
  // with one TextDecoder for the whole file, so a character split between two reads is read whole (Papa's own File
  // reading decodes each slice apart). Reading stops while paused, so a large file is never held whole. Bytes that
  // are not UTF-8 become U+FFFD, which the check reports.
  function textStream(file) {
    var reader = file.stream().getReader();
    var decoder = new TextDecoder("utf-8");
    var handlers = { data: [], end: [], error: [] };
    var paused = false;
    var reading = false;
    var done = false;

    function emit(name, value) {
      handlers[name].slice().forEach(function (handler) { handler(value); });
    }

    function emitText(text) {
      var start = 0;
      while (start < text.length && !done) {
        var end = Math.min(text.length, start + CHUNK_CHARACTERS);
        var last = text.charCodeAt(end - 1);
        if (end < text.length && last >= 0xd800 && last <= 0xdbff) { end += 1; }  // a surrogate pair stays whole
        emit("data", text.slice(start, end));
        start = end;
      }
    }

    function pump() {
      if (reading || paused || done) { return; }
      reading = true;
      reader.read().then(function (result) {
        reading = false;
        if (done) { return; }
        if (result.done) {
          done = true;
          var rest = decoder.decode();
          if (rest) { emit("data", rest); }
          emit("end");
          return;
        }
        emitText(decoder.decode(result.value, { stream: true }));
        pump();
      }, function (error) {
        reading = false;
        if (!done) {
          done = true;
          emit("error", error);
        }
      });
    }

    return {
      readable: true,
      read: function () { return null; },
      on: function (name, handler) {
        handlers[name].push(handler);
        if (name === "data") { window.setTimeout(pump, 0); }
        return this;
      },
      removeListener: function (name, handler) {
        var index = handlers[name].indexOf(handler);
        if (index >= 0) { handlers[name].splice(index, 1); }
        return this;
      },
      pause: function () { paused = true; },
      resume: function () { paused = false; pump(); },
      cancel: function () {
        done = true;
        reader.cancel().catch(function () { return null; });
      }
    };
  }

  // Reads the file a chunk at a time: onRow(row, line, reading) for each row that is not blank (the header
  // included), onQuoteError(line, code, reading) for a row whose quotes are wrong, onChunk(reading) after each
  // chunk. ``reading`` can abort(), and pause() (in onChunk only) and resume() the reading. Resolves when the file
  // is read or the reading aborted.
  function readFile(file, onChunk, onRow, onQuoteError) {
    return new Promise(function (resolve, reject) {
      var line = 1;
      var finished = false;
      var source = textStream(file);
      var reading = {
        parser: null,
        stopped: false,
        aborted: function () { return reading.stopped; },
        abort: function () {
          if (reading.stopped) { return; }
          reading.stopped = true;
          source.cancel();
          if (reading.parser && !reading.parser.aborted()) { reading.parser.abort(); } else { done(); }
        },
        pause: function () { source.pause(); reading.parser.pause(); },
        resume: function () { source.resume(); reading.parser.resume(); }
      };
      function done() {
        if (!finished) { finished = true; resolve(); }
      }
      Papa.parse(source, {
        delimiter: ",",
        skipEmptyLines: false,
        chunk: function (results, parser) {
          reading.parser = parser;
          var quoteErrors = {};
          results.errors.forEach(function (error) {
            if (error.type === "Quotes" && typeof error.row === "number") { quoteErrors[error.row] = error.code; }
          });
          for (var i = 0; i < results.data.length && !reading.stopped; i += 1) {
            var row = results.data[i];
            var rowLine = line;
            line += 1 + extraLines(row);
            if (quoteErrors[i]) {
              onQuoteError(rowLine, quoteErrors[i], reading);
            } else if (!isBlank(row)) {
              onRow(row, rowLine, reading);
            }
          }
          if (!reading.stopped && onChunk) { onChunk(reading); }
        },
        complete: done,
        error: function (error) {
          if (!finished) { finished = true; reject(error); }
        }
      });
    });
  }

  function quoteProblem(line, code) {
    if (code === "MissingQuotes") {
      return "line " + line + ": a quote (\") is not closed; a value in quotes must end with a quote, and a quote " +
             "inside it is written twice (\"\")";
    }
    return "line " + line + ": a value in quotes goes on after its closing quote; a quote inside a value in quotes " +
           "is written twice (\"\")";
  }

  // First reading: the header and every row checked. {header, total, problems}.
  function check(file, template, job) {
    var header = null;
    var total = 0;
    var problems = [];
    var lastShown = 0;
    function add(text, reading) {
      problems.push(text);
      if (problems.length >= MAX_ERRORS) { reading.abort(); }
    }
    setPhase("Checking the file", null);
    return readFile(file, function (reading) {
      if (job.stopped) { reading.abort(); return; }
      var now = Date.now();
      if (now - lastShown > DISPLAY_EVERY_MS) {
        lastShown = now;
        count.textContent = plural(total, "row", "rows") + " checked so far";
      }
    }, function (row, line, reading) {
      if (job.stopped) { reading.abort(); return; }
      if (header === null) {
        header = readHeader(row, line, job.template);
        if (header.problems.length) {
          header.problems.forEach(function (text) { add(text, reading); });
          reading.abort();
        }
        return;
      }
      total += 1;
      rowProblems(row, line, header).forEach(function (text) { add(text, reading); });
    }, function (line, code, reading) {
      add(quoteProblem(line, code), reading);
    }).then(function () {
      if (job.stopped) { throw new Stopped(); }
      if (!problems.length) {
        if (header === null) { problems.push(file.name + " is empty: choose a CSV file with a header line and one line per recipient"); }
        else if (total === 0) { problems.push(file.name + " has a header but no recipients"); }
      }
      return { header: header, total: total, problems: problems };
    });
  }

  // Second reading: each row's message written and sealed by the workers. {lines (CSV lines by row), first}.
  function seal(file, template, checked, job) {
    var total = checked.total;
    var header = checked.header;
    var lines = [];
    var waiting = [];        // rows written, not yet handed to a worker
    var rowsOf = {};         // row index -> {recipient, id}, until sealed
    var first = null;        // the first row, for the decrypted sample
    var headerRead = false;
    var read = 0;
    var sealed = 0;
    var readAll = false;
    var reading = null;
    var paused = false;
    var started = Date.now();
    var lastShown = 0;
    var workers = [];
    var size = Math.max(1, Math.min(MAX_WORKERS, navigator.hardwareConcurrency || 2, total));

    setPhase("Encrypting the messages", 0);
    show();

    return new Promise(function (resolve, reject) {
      var over = false;  // finished, failed or stopped: nothing more may happen

      function fail(error) {
        if (over) { return; }
        over = true;
        workers.forEach(function (worker) { worker.terminate(); });
        if (reading) { reading.abort(); }
        reject(error);
      }
      job.stop = function () { fail(new Stopped()); };

      function dispatch() {
        workers.forEach(function (entry) {
          if (entry.idle && waiting.length) {
            entry.idle = false;
            entry.postMessage({ batch: 0, iterations: P.V2_ITERATIONS, rows: waiting.splice(0, BATCH_ROWS) });
          }
        });
        if (paused && waiting.length < HIGH_WATER / 2) {
          paused = false;
          reading.resume();
        }
        if (readAll && sealed === read && !over) {
          over = true;
          workers.forEach(function (worker) { worker.terminate(); });
          show();
          resolve({ lines: lines, first: first, count: read });
        }
      }

      function received(event) {
        var answer = event.data || {};
        if (over) { return; }
        if (answer.type === "sealed") {
          var row = rowsOf[answer.index];
          delete rowsOf[answer.index];
          lines[answer.index] = Papa.unparse([[row.recipient, answer.payload, answer.accesshash, row.id, answer.salt,
                                               String(answer.iterations)]], { newline: NEWLINE, escapeFormulae: false });
          if (answer.index === 0) { first.sealed = answer; }
          sealed += 1;
          show();
        } else if (answer.type === "done") {
          this.idle = true;
          dispatch();
        } else if (answer.type === "failed") {
          fail(new Error("A message could not be encrypted: " + answer.error));
        }
      }

      for (var i = 0; i < size; i += 1) {
        var worker = new Worker(workerUrl);
        worker.idle = true;
        worker.addEventListener("message", received);
        worker.addEventListener("error", function (event) {
          event.preventDefault();
          fail(new Error("The encryption stopped: " + (event.message || "a worker failed")));
        });
        workers.push(worker);
      }

      var fileRead = readFile(file, function (control) {
        reading = control;
        if (waiting.length >= HIGH_WATER && !over) {
          paused = true;
          control.pause();
        }
        dispatch();
      }, function (row, line, control) {
        reading = control;
        if (over) { control.abort(); return; }
        if (!headerRead) { headerRead = true; return; }  // the header line
        var problems = rowProblems(row, line, header);
        if (problems.length) {
          fail(new Error(file.name + " changed while it was being encrypted (" + problems[0] + "): choose it again"));
          return;
        }
        var values = {};
        header.keys.forEach(function (key, index) { values[key] = row[index]; });
        values.recipient = row[header.recipientAt].trim();
        delete values.password;
        var id = P.newMessageId();
        var message = H.sanitise(H.render(template, values));
        var index = read;
        read += 1;
        rowsOf[index] = { recipient: values.recipient, id: id };
        if (index === 0) { first = { recipient: values.recipient, id: id, password: row[header.passwordAt] }; }
        waiting.push({ index: index, id: id, message: message, password: row[header.passwordAt] });
      }, function (line, code) {
        fail(new Error(file.name + " changed while it was being encrypted (" + quoteProblem(line, code) + "): choose it again"));
      });
      fileRead.then(function () {
        readAll = true;
        if (!over) { dispatch(); }
      }, fail);
    });

    function show() {
      var now = Date.now();
      if (sealed < total && now - lastShown < DISPLAY_EVERY_MS) { return; }
      lastShown = now;
      bar.value = total ? Math.floor(sealed * 100 / total) : 0;
      count.textContent = number(sealed) + " of " + plural(total, "message", "messages") + " encrypted";
      var elapsed = now - started;
      if (sealed >= total) {
        eta.textContent = "";
      } else if (sealed >= size && elapsed > 1500) {
        eta.textContent = "Time left: " + duration(elapsed / sealed * (total - sealed)) + ".";
      } else {
        eta.textContent = "Time left: working it out.";
      }
    }
  }

  // The first row decrypted again with its password: the file opens, and the officer sees what recipients will.
  function showSample(result) {
    var first = result.first;
    setPhase("Decrypting a sample", null);
    return P.v2Open(first.sealed.payload, first.password, first.id, first.sealed.salt, first.sealed.iterations)
      .then(function (message) {
        first.password = null;
        var body = document.getElementById("protect-sample-body");
        body.textContent = "";
        body.appendChild(H.fragment(message));
        document.getElementById("protect-sample-recipient").textContent = first.recipient;
        sample.hidden = false;
        return result;
      }, function () {
        throw new Error("The encrypted file did not open again with the first row’s password, so it was not " +
                        "uploaded. Reload the page and try again.");
      });
  }

  // The officer looks at the sample before anything leaves the browser: upload it, or start again.
  function confirmed(job) {
    var confirm = document.getElementById("protect-confirm");
    var again = document.getElementById("protect-again");
    stopButton.hidden = true;
    setPhase("Encrypted. Check the sample below, then upload the encrypted file", 100);
    document.getElementById("protect-sample-actions").hidden = false;
    confirm.focus();
    return new Promise(function (resolve, reject) {
      function done(accepted) {
        confirm.removeEventListener("click", onConfirm);
        again.removeEventListener("click", onAgain);
        document.getElementById("protect-sample-actions").hidden = true;
        if (accepted && !job.stopped) { resolve(); } else { reject(new Stopped()); }
      }
      function onConfirm() { done(true); }
      function onAgain() { done(false); }
      confirm.addEventListener("click", onConfirm);
      again.addEventListener("click", onAgain);
    });
  }

  function encryptedFile(result, name) {
    var parts = [Papa.unparse([HEADER], { newline: NEWLINE }) + NEWLINE];
    for (var i = 0; i < result.lines.length; i += 1) { parts.push(result.lines[i] + NEWLINE); }
    return new File(parts, name, { type: "text/csv" });
  }

  function upload(file) {
    return new Promise(function (resolve, reject) {
      var transfer = new DataTransfer();
      transfer.items.add(file);
      postedInput.files = transfer.files;
      var request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action"));
      request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) {
          var percent = Math.round(progress.loaded * 100 / progress.total);
          setPhase("Uploading the encrypted file: " + percent + "%", percent);
        }
      });
      request.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = null; }
        if (request.status === 202 && answer) {
          resolve(answer);
        } else {
          reject(new Error((answer && answer.error) || "The file could not be uploaded. Reload the page and try again."));
        }
      });
      request.addEventListener("error", function () {
        reject(new Error("The upload did not reach Postman. Check your connection and try again."));
      });
      setPhase("Uploading the encrypted file", 0);
      request.send(new FormData(form));
      postedInput.value = "";
    });
  }

  function finish(error) {
    running = null;
    busy(false);
    progressGroup.hidden = true;
    count.textContent = "";
    eta.textContent = "";
    if (error instanceof Stopped) {
      phase.textContent = "";
      sample.hidden = true;
      showProblems([{ field: "file", text: "Stopped: nothing was uploaded. Choose the file again to start over." }]);
    } else if (error) {
      showProblems([{ field: "file", text: error.message || String(error) }]);
    }
  }

  stopButton.addEventListener("click", function () {
    if (running) {
      running.stopped = true;
      if (running.stop) { running.stop(); }
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (running) { return; }
    clearProblems();
    var problems = [];
    var file = fileInput.files && fileInput.files[0];
    if (!file) { problems.push({ field: "file", text: "Choose a CSV file of recipients and their passwords" }); }
    var template = null;
    var cleaned = null;
    if (!messageInput.value.trim()) {
      problems.push({ field: "message", text: "Write the message that opens behind the link" });
    } else {
      try {
        template = H.parse(messageInput.value);
      } catch (error) {
        problems.push({ field: "message", text: error.message });
      }
      if (template && template.keys.indexOf("password") >= 0) {
        problems.push({ field: "message", text: "Take {{password}} out of the message: the password opens the " +
                                                "message, so the message cannot show it" });
      }
      if (template && !problems.length) {
        // Rows are written from the sanitised message; its keys are checked as the officer wrote them.
        cleaned = H.clean(messageInput.value);
        try {
          cleaned.template = H.parse(cleaned.html);
        } catch (error) {
          problems.push({ field: "message", text: error.message });
        }
      }
    }
    if (problems.length) {
      showProblems(problems);
      return;
    }

    var job = running = { stopped: false, template: template, stop: null };
    busy(true);
    sample.hidden = true;
    removedNote.hidden = true;
    if (cleaned.removed.length) {
      removedNote.textContent = "Taken out of the message because they are not allowed: " +
        cleaned.removed.join(", ") + ".";
      removedNote.hidden = false;
    }
    var name = file.name;
    check(file, template, job)
      .then(function (checked) {
        if (checked.problems.length) {
          var more = checked.problems.length >= MAX_ERRORS ? [{ field: "file", text: "Checking stopped after " +
            MAX_ERRORS + " problems: correct these and choose the file again" }] : [];
          var listed = checked.problems.map(function (text) { return { field: "file", text: text }; });
          throw { problems: listed.concat(more) };
        }
        if (job.stopped) { throw new Stopped(); }
        return seal(file, cleaned.template, checked, job);
      })
      .then(showSample)
      .then(function (result) {
        return confirmed(job).then(function () { return result; });
      })
      .then(function (result) {
        var encrypted = encryptedFile(result, name);
        if (maxBytes && encrypted.size > maxBytes) {
          throw new Error("The encrypted file is " + (encrypted.size / 1048576).toFixed(1) + " MB, more than the " +
                          (maxBytes / 1048576) + " MB that can be uploaded: split your file and use one part per campaign");
        }
        job.stop = null;
        stopButton.hidden = true;
        return upload(encrypted);
      })
      .then(function (answer) {
        setPhase("Checking the uploaded file", null);
        count.textContent = "";
        pageUrl = answer.page_url || pageUrl;
        follow(answer.status_url || statusUrl, function (status) {
          count.textContent = plural(status.rows_processed || 0, "line", "lines") + " checked so far";
        }, function () { return running === job; });
      })
      .catch(function (error) {
        if (error && error.problems) {
          running = null;
          busy(false);
          progressGroup.hidden = true;
          count.textContent = "";
          showProblems(error.problems);
        } else {
          finish(error);
        }
      });
  });
})();
