// Warns before the idle sign-out (settings SESSION_IDLE_TIMEOUT / SESSION_IDLE_WARNING, rendered
// as data attributes) and offers to stay signed in. The server decides: the script asks it how
// long is left (another tab may have been used meanwhile) and, to stay signed in, sends a ping.
// Typing counts as being there: it pings at most once a minute. When the time is up the page is
// left as it is, so nothing typed is lost: a form saved then is kept and comes back after signing in.
(function () {
  "use strict";
  var box = document.getElementById("session-warning");
  if (!box || !window.fetch) { return; }
  var warning = Number(box.getAttribute("data-warning"));
  var timeout = Number(box.getAttribute("data-timeout"));
  var statusUrl = box.getAttribute("data-status-url");
  var pingUrl = box.getAttribute("data-ping-url");
  var text = box.querySelector("[data-text]");
  var title = box.querySelector("[data-title]");
  var stay = box.querySelector("[data-stay]");
  var timer = null;
  var deadline = 0;
  var lastPing = Date.now();
  var previousFocus = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function inWords(seconds) {
    if (seconds >= 90) { return Math.round(seconds / 60) + " minutes"; }
    if (seconds >= 60) { return "1 minute"; }
    return seconds + " second" + (seconds === 1 ? "" : "s");
  }
  function schedule(seconds, next) {
    window.clearTimeout(timer);
    timer = window.setTimeout(next, Math.max(seconds, 1) * 1000);
  }
  function hide() {
    if (box.hidden) { return; }
    box.hidden = true;
    if (previousFocus && document.contains(previousFocus)) { previousFocus.focus(); }
  }
  function signedOut() {
    window.clearTimeout(timer);
    title.textContent = "You were signed out";
    text.textContent = "Nothing was sent from this browser for a while. What you typed is still on this page: " +
      "save it and you will be asked to sign in, then it comes back in the form.";
    stay.hidden = true;
    box.hidden = false;
  }
  function countdown() {
    var left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) { check(); return; }
    text.textContent = "You will be signed out in " + inWords(left) +
      " because nothing was sent from this browser for a while.";
    schedule(left > 60 ? 15 : (left > 10 ? 5 : 1), countdown);
  }
  function show(remaining) {
    deadline = Date.now() + remaining * 1000;
    if (box.hidden) {
      previousFocus = document.activeElement;
      box.hidden = false;
      stay.focus();
    }
    countdown();
  }
  function follow(remaining) {
    if (remaining <= 0) { signedOut(); }
    else if (remaining > warning) { hide(); schedule(remaining - warning, check); }
    else { show(remaining); }
  }
  function check() {
    fetch(statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (body) { follow(body.remaining); })
      .catch(function () { schedule(30, check); });
  }
  function ping() {
    lastPing = Date.now();
    return fetch(pingUrl, {method: "POST", credentials: "same-origin",
                           headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (body) { follow(body.remaining); });
  }
  stay.addEventListener("click", function () { ping().then(hide); });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !stay.hidden) { ping().then(hide); }
  });
  document.addEventListener("input", function () {
    if (box.hidden && Date.now() - lastPing > 60000) { ping(); }
  });
  schedule(timeout - warning, check);
})();
