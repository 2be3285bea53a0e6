// /api/docs: Swagger UI (web/static/vendor/swagger-ui-bundle.js) drawing the OpenAPI document. A file of its
// own, as the pages' CSP allows no inline script.
"use strict";
(function () {
  const root = document.getElementById("api-docs");
  window.SwaggerUIBundle({ url: root.dataset.spec, domNode: root, deepLinking: true, validatorUrl: null,
                           tryItOutEnabled: false, docExpansion: "list" });
})();
