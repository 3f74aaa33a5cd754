/* borderwatch offline map: draws the data embedded in #bw-data with Leaflet.
   No network: no tiles, no requests for data; every string from the data is shown as text. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bw-data").textContent);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // A popup body listing a feature's properties (as text, never HTML).
  function propsTable(title, props, skip) {
    var box = el("div", "bw-popup");
    if (title) box.appendChild(el("strong", null, title));
    var table = el("table");
    Object.keys(props || {}).forEach(function (k) {
      if (skip && skip.indexOf(k) >= 0) return;
      var v = props[k];
      if (v === null || v === undefined || v === "" || typeof v === "object") return;
      var tr = el("tr");
      tr.appendChild(el("th", null, k));
      tr.appendChild(el("td", null, v));
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  var map = L.map("map", { zoomSnap: 0.25, preferCanvas: false });
  window.bwMap = map;
  map.createPane("imagery");
  map.getPane("imagery").style.zIndex = 350; // below the vector layers (400)

  // imagery, one radio button per date
  var baseLayers = { "No imagery": L.layerGroup() };
  data.imagery.forEach(function (im) {
    baseLayers[im.label] = L.imageOverlay(im.url, im.bounds, {
      pane: "imagery", interactive: false, alt: "imagery " + im.label, className: "bw-imagery"
    });
  });

  var overlays = {};
  var L_ = data.layers;

  var banks = L.geoJSON(L_.banks, {
    style: function (f) {
      return { color: f.properties.colour, weight: 1, fillColor: f.properties.colour, fillOpacity: 0.12, className: "bw-bank" };
    },
    onEachFeature: function (f, layer) {
      layer.bindPopup(propsTable(f.properties.country + " bank", f.properties, ["colour"]));
    }
  });
  overlays["Bank strips"] = banks;

  var footprints = L.geoJSON(L_.footprints, {
    style: { color: "#ff8c00", weight: 2, dashArray: "6 4", fill: false, className: "bw-footprint" },
    onEachFeature: function (f, layer) {
      layer.bindPopup(propsTable("Scene " + f.properties.date, f.properties));
    }
  });
  overlays["Scene footprints"] = footprints;

  var corridor = L.geoJSON(L_.corridor, {
    style: { color: "#1f4fff", weight: 3, className: "bw-corridor" },
    onEachFeature: function (f, layer) {
      layer.bindPopup(propsTable(f.properties.name, f.properties, ["name"]));
    }
  });
  overlays["River line"] = corridor;

  var ticks = L.geoJSON(L_.ticks, {
    style: { color: "#202020", weight: 2, className: "bw-tick" },
    pointToLayer: function (f, latlng) {
      var label = el("span", null, f.properties.label);
      return L.marker(latlng, {
        icon: L.divIcon({ className: "bw-km", html: label, iconSize: null, iconAnchor: [-4, 8] }),
        keyboard: false, interactive: false
      });
    }
  });
  overlays["Chainage (every " + data.tick_km + " km)"] = ticks;

  var places = L.geoJSON(L_.places, {
    pointToLayer: function (f, latlng) {
      var inside = f.properties.inside;
      return L.circleMarker(latlng, {
        radius: inside ? 6 : 4, color: "#222", weight: 1.5, fillColor: inside ? "#ffffff" : "#9a9a9a",
        fillOpacity: 1, className: inside ? "bw-place" : "bw-place bw-place-outside"
      });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      var name = p.inside ? p.name : p.name + " (outside this stretch)";
      layer.bindTooltip(el("span", null, name), { permanent: true, direction: "right", className: "bw-place-label" });
      layer.bindPopup(propsTable(name, p, ["name", "inside"]));
    }
  });
  overlays["Places"] = places;

  data.extra.forEach(function (x) {
    var style = x.style || {};
    // a feature may carry its own colour (e.g. detections coloured by class)
    overlays[x.name] = L.geoJSON(x.geojson, {
      style: function (f) { return f.properties.colour ? L.extend({}, style, { color: f.properties.colour, fillColor: f.properties.colour }) : style; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, L.extend({ radius: 6, fillOpacity: 0.8 }, style));
      },
      onEachFeature: function (f, layer) {
        layer.bindPopup(propsTable(x.name, f.properties, ["colour"]));
      }
    });
  });

  // summary tables (e.g. counts by class per km), one collapsible panel at the bottom right
  if (data.tables && data.tables.length) {
    var panel = L.control({ position: "bottomright" });
    panel.onAdd = function () {
      var box = el("div", "bw-tables leaflet-bar");
      data.tables.forEach(function (t) {
        var det = el("details");
        det.open = true;
        det.appendChild(el("summary", null, t.title));
        var table = el("table");
        var head = el("tr");
        t.columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
        table.appendChild(head);
        t.rows.forEach(function (r) {
          var tr = el("tr");
          r.forEach(function (v) { tr.appendChild(el("td", null, v)); });
          table.appendChild(tr);
        });
        det.appendChild(table);
        box.appendChild(det);
      });
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    panel.addTo(map);
  }

  // show: the newest imagery, then everything else
  var labels = data.imagery.map(function (im) { return im.label; });
  (labels.length ? baseLayers[labels[labels.length - 1]] : baseLayers["No imagery"]).addTo(map);
  var hidden = {};
  data.extra.forEach(function (x) { if (x.style && x.style.hidden) hidden[x.name] = true; });
  Object.keys(overlays).forEach(function (k) { if (!hidden[k]) overlays[k].addTo(map); });

  var layersControl = L.control.layers(baseLayers, overlays, { collapsed: false, position: "topright" }).addTo(map);
  L.control.scale({ imperial: false, maxWidth: 200, position: "bottomleft" }).addTo(map);

  var legend = L.control({ position: "topright" });
  legend.onAdd = function () {
    var box = el("div", "bw-legend leaflet-bar");
    box.appendChild(el("strong", null, "Legend"));
    data.legend.forEach(function (item) {
      var row = el("div", "bw-legend-row");
      var key = el("span", "bw-key bw-key-" + item.kind);
      key.style.setProperty("--bw-colour", item.colour);
      row.appendChild(key);
      row.appendChild(el("span", null, item.label));
      box.appendChild(row);
    });
    return box;
  };
  legend.addTo(map);

  data.attribution.forEach(function (a) {
    var span = el("span", null, a);
    map.attributionControl.addAttribution(span.outerHTML);
  });

  // the controls stand in a column on the right: keep the river clear of them
  var right = Math.max(layersControl.getContainer().offsetWidth, legend.getContainer().offsetWidth) + 30;
  var size = map.getSize();
  if (right > size.x / 2) right = 24; // narrow screen: let the controls overlap
  var fit = corridor.getBounds();
  places.eachLayer(function (m) { if (m.feature.properties.inside) fit.extend(m.getLatLng()); });
  // km labels thin out when zoomed out: every 1, 2, 5, 10 ... ticks, at least ~80 px apart along a straight river
  var kmLabels = [];
  ticks.eachLayer(function (m) { if (m.feature.geometry.type === "Point") kmLabels.push(m); });
  function thinLabels() {
    var y = map.getSize().y / 2;
    var mpp = map.distance(map.containerPointToLatLng([0, y]), map.containerPointToLatLng([100, y])) / 100;
    var pxPerTick = data.tick_km * 1000 / mpp;
    var every = [1, 2, 5, 10, 20, 50, 100, 200, 500].filter(function (n) { return n * pxPerTick >= 80; })[0] || 1000;
    kmLabels.forEach(function (m) {
      var i = Math.round(m.feature.properties.km / data.tick_km);
      var el_ = m.getElement();
      if (el_) el_.style.display = i % every === 0 ? "" : "none";
    });
  }
  map.on("zoomend viewreset", thinLabels);
  ticks.on("add", thinLabels);

  map.fitBounds(fit, { paddingTopLeft: [56, 24], paddingBottomRight: [right, 24] });
  thinLabels();
  document.body.setAttribute("data-bw-ready", "1");
})();
