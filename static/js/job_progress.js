/* Live job progress: polls the job JSON (GET /api/v1/jobs/{id}/, session cookie) every
 * data-poll-ms until the job succeeded or failed, updating the page in place. */
(function () {
  "use strict";
  var FINISHED = { succeeded: true, failed: true };

  function $(id) { return document.getElementById(id); }

  // What people read, in the page's language (the view embeds it with json_script): state
  // labels, code labels (apps/core/reasons.py) and the page's phrases; codes stay as they are.
  var LABELS = (function () {
    var el = document.getElementById("job-labels");
    return el ? JSON.parse(el.textContent) : { states: {}, codes: {}, text: {} };
  })();
  function text(key, fallback) { return LABELS.text[key] || fallback; }

  // A finished reconciliation run job names its run: link its report (URL pattern from the page).
  function linkRun(result) {
    var next = $("job-next");
    var pattern = next && next.getAttribute("data-run-url");
    if (!pattern || !result.run || $("job-run-link")) return;
    var a = document.createElement("a");
    a.id = "job-run-link";
    a.href = pattern.replace(/\/0\/$/, "/" + encodeURIComponent(result.run) + "/");
    a.textContent = text("open_run", "Open the reconciliation run report");
    next.appendChild(a);
  }

  function render(job) {
    var root = $("job");
    root.setAttribute("data-state", job.state);
    root.setAttribute("data-polls", String(parseInt(root.getAttribute("data-polls") || "0", 10) + 1));
    var state = $("job-state");
    state.textContent = LABELS.states[job.state] || job.state;
    state.className = "job-" + job.state;
    $("job-counts").textContent = job.total ? job.done + " / " + job.total : String(job.done);
    var bar = $("job-progress");
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
      $("job-percent").textContent = Math.floor((100 * job.done) / job.total) + "%";
    } else if (job.state === "succeeded") {
      bar.max = 1;
      bar.value = 1;
    }
    if (job.state === "succeeded") {
      $("job-result").hidden = false;
      $("job-result-json").textContent = JSON.stringify(job.result, null, 2);
      linkRun(job.result || {});
      $("job-percent").textContent = "100%";
    }
    if (job.state === "failed") {
      $("job-errors").hidden = false;
      $("job-error-count").textContent = job.error_count;
      var rows = $("job-error-rows");
      rows.textContent = "";
      (job.errors || []).slice(0, 200).forEach(function (e) {
        var tr = document.createElement("tr");
        [e.line, e.column, LABELS.codes[e.code] || e.code, e.message].forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v === undefined || v === null ? "" : String(v);
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
    }
    $("job-live").textContent = FINISHED[job.state] ? text("finished", "finished") : text("updating", "updating every second");
  }

  function start() {
    var root = $("job");
    if (!root) return;
    var url = root.getAttribute("data-url");
    var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 1000;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (job) {
          render(job);
          if (!FINISHED[job.state]) window.setTimeout(poll, every);
        })
        .catch(function (err) {
          $("job-live").textContent = text("retrying", "could not refresh; retrying") + " (" + err.message + ")";
          window.setTimeout(poll, every * 3);
        });
    }
    poll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
