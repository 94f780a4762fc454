/*
 * Atlas des PTCE - not part of Leaflet; written by scripts/vendor_assets.py.
 *
 * Leaflet 1.9.3 guesses where the default marker images live by reading the
 * computed style of leaflet.css. When the stylesheet is not applied yet (as in
 * streamlit-folium, which adds the CSS links just before running the map
 * script) the fallback yields ".../leafletmarker-icon.png" and default markers
 * show as broken images. Loaded right after leaflet.js, this pins the path to
 * the vendored images, next to this file: ../leaflet/images/.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!window.L || !L.Icon || !L.Icon.Default || !script || !script.src) {
    return;
  }
  L.Icon.Default.imagePath = new URL("../leaflet/images/", script.src).href;
})();
