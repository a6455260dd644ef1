// Starts Swagger UI on /docs (api/docs.py): a file rather than an inline script, so the page keeps
// the Content-Security-Policy of every other page.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
