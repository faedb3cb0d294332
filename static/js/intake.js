// Intake forms, a progressive enhancement (without JavaScript every field is shown and the
// problem summary takes the focus through its autofocus attribute; the server checks every
// field either way).
// - Shows a field only when it applies (e.g. prophylaxis only when a marker is positive). The
//   conditions come from the server's own table (the field table, eligibility/patients/fields.py) as
//   data-show-when="name=value|name=value"; the server removes, on save, a value whose
//   condition no longer holds.
//   A field with a problem beside it stays shown (e.g. a last dose recorded with a status other than
//   "stopped": the message says to clear it).
// - In a group of boxes with "None of these" (prior drug classes), ticking it clears the others and
//   ticking another clears it (the server refuses both at once, with a message beside the group).
// - Moves the focus to the summary of problems after a refused save.
(function () {
  "use strict";
  function fieldValue(form, name) {
    var input = form.elements.namedItem(name);
    return input ? input.value : "";
  }
  function applies(form, condition) {
    return condition.split("|").some(function (part) {
      var pair = part.split("=");
      return fieldValue(form, pair[0]) === pair[1];
    });
  }
  var NONE = "none_of_these";
  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (wrapper) {
      wrapper.hidden = !applies(form, wrapper.getAttribute("data-show-when")) &&
        !wrapper.querySelector(".is-invalid");
    });
  }
  function exclusive(form, box) {
    if (box.type !== "checkbox" || !box.checked) { return; }
    form.querySelectorAll("input[type=checkbox]").forEach(function (other) {
      if (other.name === box.name && other !== box && (box.value === NONE || other.value === NONE)) {
        other.checked = false;
      }
    });
  }
  document.querySelectorAll("form.intake").forEach(function (form) {
    update(form);
    form.addEventListener("change", function (event) {
      exclusive(form, event.target);
      update(form);
    });
  });
  var summary = document.querySelector("[data-problem-summary]");
  if (summary) {
    summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) { return; }
        var wrapper = target.closest("[data-show-when]");
        if (wrapper) { wrapper.hidden = false; }
        event.preventDefault();
        target.focus();
        target.scrollIntoView({block: "center"});
      });
    });
  }
})();
