/* Live job progress: polls the job JSON (GET /api/v1/jobs/{id}/, session cookie) every
 * data-poll-ms until the job succeeded or failed, updating the page in place. */
(function () {
  "use strict";
  var FINISHED = { succeeded: true, failed: true };

  function $(id) { return document.getElementById(id); }

  // A finished reconciliation run job names its run: link its report (URL pattern from the page).
  function linkRun(result) {
    var next = $("job-next");
    var pattern = next && next.getAttribute("data-run-url");
    if (!pattern || !result.run || $("job-run-link")) return;
    var a = document.createElement("a");
    a.id = "job-run-link";
    a.href = pattern.replace(/\/0\/$/, "/" + encodeURIComponent(result.run) + "/");
    a.textContent = "Open the reconciliation run report";
    next.appendChild(a);
  }

  // The outcome (result in words, or the errors with their CSV link) is rendered by the server:
  // fetched once when the job ends and put in place, then the page says the job's final state.
  function showOutcome(job) {
    var root = $("job");
    var url = root.getAttribute("data-outcome-url");
    var done = function () {
      root.setAttribute("data-state", job.state);
      if (job.state === "succeeded") linkRun(job.result || {});
    };
    if (!url) { done(); return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#job-outcome");
        var old = $("job-outcome");
        if (fresh && old) old.parentNode.replaceChild(fresh, old);
        done();
      })
      .catch(done);
  }

  function render(job, previous) {
    var root = $("job");
    root.setAttribute("data-polls", String(parseInt(root.getAttribute("data-polls") || "0", 10) + 1));
    var state = $("job-state");
    state.className = "job-" + job.state;
    var labels = $("job-state-labels");
    try { state.textContent = (labels && JSON.parse(labels.textContent)[job.state]) || job.state; } catch (e) { state.textContent = job.state; }
    var counts = $("job-counts");
    var unit = counts.getAttribute("data-unit");
    counts.textContent = (job.total ? job.done + " / " + job.total : String(job.done)) + (unit ? " " + unit : "");
    var bar = $("job-progress");
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
      $("job-percent").textContent = Math.floor((100 * job.done) / job.total) + "%";
    } else if (job.state === "succeeded") {
      bar.max = 1;
      bar.value = 1;
    }
    if (job.state === "succeeded") $("job-percent").textContent = "100%";
    if (FINISHED[job.state]) {
      $("job-live").textContent = "";
      if (previous !== job.state) showOutcome(job);
    } else {
      root.setAttribute("data-state", job.state);
    }
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
          render(job, root.getAttribute("data-state"));
          if (!FINISHED[job.state]) window.setTimeout(poll, every);
        })
        .catch(function (err) {
          $("job-live").textContent = "… (" + err.message + ")";
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
