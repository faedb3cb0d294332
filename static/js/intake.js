// Shows a field only when it applies (e.g. prophylaxis only when a marker is positive).
// A progressive enhancement: without JavaScript every field is shown, and the server
// validates every field either way. Conditions: "name=value" or alternatives joined by "|".
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
  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (wrapper) {
      wrapper.hidden = !applies(form, wrapper.getAttribute("data-show-when"));
    });
  }
  document.querySelectorAll("form.intake").forEach(function (form) {
    update(form);
    form.addEventListener("change", function () { update(form); });
  });
})();
