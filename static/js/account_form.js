// The account form (templates/credentials/form.html), enhanced: only the fields of the chosen sign-in
// method and only the regions of the chosen cloud. Without this script every field shows, grouped in a
// fieldset per method (data-auth-method) and an optgroup per cloud (labelled as the cloud's option);
// the server checks the same rules either way.
(function () {
  "use strict";

  function showMethodFields(form) {
    var chosen = form.querySelector('input[name="auth_method"]:checked');
    form.querySelectorAll("fieldset[data-auth-method]").forEach(function (fieldset) {
      // Before any choice both show; a hidden fieldset's fields are disabled so they are not sent.
      var hide = chosen !== null && fieldset.getAttribute("data-auth-method") !== chosen.value;
      fieldset.hidden = hide;
      fieldset.disabled = hide;
    });
  }

  function showCloudRegions(form) {
    var cloud = form.querySelector('select[name="cloud"]');
    var region = form.querySelector('select[name="region"]');
    if (!cloud || !region || cloud.selectedIndex < 0) { return; }
    var label = cloud.options[cloud.selectedIndex].text;
    var keep = null;
    region.querySelectorAll("optgroup").forEach(function (group) {
      var other = Boolean(cloud.value) && group.label !== label;
      group.hidden = other;
      group.disabled = other;
      if (!other && keep === null) { keep = group; }
    });
    var current = region.options[region.selectedIndex];
    if (keep && current && current.parentElement && current.parentElement.disabled) {
      region.value = keep.querySelector("option").value;  // the first region of the chosen cloud
    }
  }

  function enhance(form) {
    showMethodFields(form);
    showCloudRegions(form);
    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name === "auth_method") { showMethodFields(form); }
      if (name === "cloud") { showCloudRegions(form); }
    });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (form.querySelector('select[name="region"]') && form.querySelector('input[name="auth_method"]')) {
      enhance(form);
    }
  });
})();
