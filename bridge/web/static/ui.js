// Asks before buttons marked data-confirm submit their form; pages work without it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
// Tells about JSON mistakes in the edit box before the round trip.
document.addEventListener("submit", function (event) {
  var box = event.target.querySelector("textarea[name=command]");
  if (!box) { return; }
  try { JSON.parse(box.value); box.setCustomValidity(""); }
  catch (e) { box.setCustomValidity("Not JSON: " + e.message); box.reportValidity(); event.preventDefault(); }
});
document.addEventListener("input", function (event) {
  if (event.target.name === "command") { event.target.setCustomValidity(""); }
});
