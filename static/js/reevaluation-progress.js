// Background work over the open assessments (the re-evaluation after a publish, on the version's
// page; the impact preview of a draft, on its page): asks the server how far it is (a small JSON
// endpoint) every second or two and updates the progress bar, the count and the status in place,
// until it has finished or stopped. The words announced to screen readers (the status line)
// change only when the status does, not at every count. Without JavaScript the page says the same
// as text, with a refresh link. Once finished, what the box marks [data-when-finished] (e.g. a
// link to the results) is shown.
(function () {
  "use strict";
  if (!window.fetch) { return; }

  function follow(box) {
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("progress");
    var count = box.querySelector("[data-count]");
    var label = box.querySelector("[data-label]");
    var text = box.querySelector("[data-text]");
    var refresh = box.querySelector("[data-refresh]");
    var resume = box.querySelector("[data-resume]");
    var whenFinished = box.querySelector("[data-when-finished]");
    var lastStatus = null;
    var delay = 1000;

    function show(state) {
      bar.max = Math.max(state.total, 1);
      bar.value = state.finished && !state.total ? 1 : state.done;
      bar.textContent = state.percent + " %";
      count.textContent = state.done + " of " + state.total;
      var status = state.status + (state.resumable ? ":stopped" : "");
      if (status !== lastStatus || state.finished) {
        label.textContent = "";
        var icon = document.createElement("span");
        icon.setAttribute("aria-hidden", "true");
        icon.textContent = state.icon;
        label.appendChild(icon);
        label.appendChild(document.createTextNode(" " + state.label + ":"));
        text.textContent = state.text;
        lastStatus = status;
      }
      if (resume) { resume.hidden = !state.resumable; }
      if (refresh) { refresh.hidden = state.finished; }
      if (whenFinished) { whenFinished.hidden = !state.finished; }
      box.setAttribute("data-status", state.status);
    }

    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (state) {
          show(state);
          if (state.finished) { box.setAttribute("data-finished", ""); return; }
          // A stopped one is looked at less often: it changes when someone resumes it.
          window.setTimeout(poll, state.resumable ? 10000 : delay);
        })
        .catch(function () {
          // Signed out, or the server unreachable: leave the page as it is (the refresh link stays).
        });
    }
    window.setTimeout(poll, delay);
  }

  var boxes = document.querySelectorAll("section[data-progress-url]");
  for (var i = 0; i < boxes.length; i += 1) {
    if (!boxes[i].hasAttribute("data-finished")) { follow(boxes[i]); }
  }
}());
