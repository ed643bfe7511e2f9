// Swagger UI on /docs, started from this file: the Content-Security-Policy allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return; // the server-rendered list stays
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never ask a third-party validator
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
  var fallback = document.getElementById("operation-list");
  if (fallback) {
    fallback.hidden = true;
  }
});
