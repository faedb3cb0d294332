// The checklist page, a progressive enhancement (without JavaScript every decision form posts and
// the page comes back at the item; the server checks everything either way).
// - A decision (on one item, or on all flags / all missing items at once) is posted with fetch,
//   asking for JSON: the server answers with the changed items, the bulk decisions and the
//   sign-off block re-rendered (eligibility/review/views.py, _fragments), swapped in place. The
//   focus moves to the next item still needing a decision (or to the sign-off block) and the
//   result is announced. A refused decision comes back with its errors beside the field and what
//   was typed kept; a checklist replaced meanwhile is said at the top with a link to the current one.
// - The override's reason and justification are shown only while Override is chosen.
// - The folded passes open for printing (the print style sheet has a fallback).
(function () {
  "use strict";
  var live = document.querySelector("[data-review-live]");
  var alertBox = document.querySelector("[data-review-alert]");

  function announce(text) {
    if (!live) { return; }
    live.textContent = "";
    // A change after a pause, so that screen readers announce the same words twice in a row too.
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function fromHtml(html) {
    // A <template> parses a table row on its own (a <div> would drop the <tr>).
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function showAlert(message, href) {
    if (!alertBox) { return; }
    var box = document.createElement("div");
    box.className = "alert alert-danger";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.appendChild(document.createTextNode(message + " "));
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = "Load the current checklist.";
      box.appendChild(link);
    }
    alertBox.replaceChildren(box);
    box.focus();
  }

  function syncOverride(form) {
    var fields = form.querySelector("[data-override-fields]");
    if (!fields) { return; }
    var chosen = form.querySelector("input[type=radio][name$='-kind']:checked");
    fields.hidden = !(chosen && chosen.value === "overridden");
  }

  function undecidedRows() {
    return Array.prototype.map.call(document.querySelectorAll("tr.item > td[data-undecided]"),
                                    function (cell) { return cell.parentElement; });
  }

  function focusNext(after) {
    var rows = undecidedRows();
    var next = null;
    if (after) {
      next = rows.find(function (row) {
        return after.compareDocumentPosition(row) & Node.DOCUMENT_POSITION_FOLLOWING;
      }) || null;
    }
    next = next || rows[0];
    var target = next ? next.querySelector("th[scope=row]") : document.getElementById("signature");
    if (target) { target.focus(); }
  }

  function replace(selector, html) {
    var old = document.querySelector(selector);
    var fresh = html ? fromHtml(html) : null;
    if (old && fresh) {
      old.replaceWith(fresh);
      enhance(fresh);
    }
  }

  function apply(form, data) {
    if (data.stale) {
      showAlert(data.message, data.reload);
      return;
    }
    var codes = Object.keys(data.items || {});
    var changed = null;
    codes.forEach(function (code) {
      var old = document.getElementById("item-" + code);
      var row = fromHtml(data.items[code]);
      if (old && row) {
        old.replaceWith(row);
        enhance(row);
        changed = changed || row;
      }
    });
    replace("[data-bulk]", data.bulk);
    replace("[data-sign-block]", data.sign);
    document.querySelectorAll("[data-undecided-count]").forEach(function (count) {
      count.textContent = data.undecided;
    });
    if (alertBox) { alertBox.replaceChildren(); }
    announce(data.message);
    if (data.ok) {
      focusNext(changed);
      return;
    }
    var scope = changed || document.querySelector("[data-bulk]");
    var invalid = scope && scope.querySelector(".is-invalid");
    if (invalid) { invalid.focus(); }
  }

  function submit(event) {
    var form = event.currentTarget;
    event.preventDefault();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    var buttons = form.querySelectorAll("[type=submit]");
    buttons.forEach(function (button) { button.disabled = true; });
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": token ? token.value : ""}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // Not the answer of the decision view (signed out, refused by a middleware): post the
        // form as without JavaScript, which shows that page and keeps the entries.
        form.removeEventListener("submit", submit);
        HTMLFormElement.prototype.submit.call(form);
        return null;
      }
      return response.json().then(function (data) { apply(form, data); });
    }, function () {
      buttons.forEach(function (button) { button.disabled = false; });
      showAlert("Not saved: the server could not be reached. Check the connection and record the decision again.");
    });
  }

  function enhance(root) {
    root.querySelectorAll("form[data-review-form]").forEach(function (form) {
      syncOverride(form);
      form.addEventListener("change", function () { syncOverride(form); });
      form.addEventListener("submit", submit);
    });
  }

  enhance(document);

  // Printing shows every item: the folded passes and pending checks open for the print, and
  // close again afterwards.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.fold:not([open])").forEach(function (fold) {
      fold.open = true;
      fold.setAttribute("data-opened-for-print", "");
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-opened-for-print]").forEach(function (fold) {
      fold.open = false;
      fold.removeAttribute("data-opened-for-print");
    });
  });
})();
