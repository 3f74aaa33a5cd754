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

  // crossing sites: numbered markers (colour by scale; candidates grey and dashed) over the site areas
  var siteMarkers = [];
  var S = data.sites;
  function siteColour(p) {
    if (p.status === "candidate") return S.candidate_colour;
    return S.colours[p.scale] || S.candidate_colour;
  }
  // the register left this date's counts out for this reason ("snow", "river ice", or both joined by "and")
  function withheldFor(o, why) {
    return typeof o.counts_withheld === "string" && o.counts_withheld.indexOf(why) >= 0;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return "–";
    return typeof v === "number" && digits !== undefined ? v.toFixed(digits) : String(v);
  }
  function shareText(o, c) {
    var share = o.share_toward ? o.share_toward[c] : null;
    if (share === null || share === undefined) return "–";
    var n = o.toward ? o.toward[c] : null;
    var range = o.share_interval ? o.share_interval[c] : null;  // 95 % interval of the weighed share
    return Math.round(share * 100) + "%" + (n === null || n === undefined ? "" : " (" + n + ")") +
      (range ? " [" + Math.round(range[0] * 100) + "–" + Math.round(range[1] * 100) + "%]" : "");
  }
  // numbers count confirmed sites in river order and stay once given (12a: confirmed later, between 12 and 13);
  // a candidate has none
  function numberOf(p) {
    if (p.label !== null && p.label !== undefined && p.label !== "") return String(p.label);
    return p.number === null || p.number === undefined ? null : String(p.number);
  }
  function siteLabel(p) { var n = numberOf(p); return n === null ? "?" : n; }
  function siteTitle(p) {
    var n = numberOf(p);
    if (n === null) {
      return (p.status === "candidate" ? "Candidate crossing site" : "Crossing site") + ", km " + fmt(p.chainage_km, 2);
    }
    return "Crossing site " + n + (p.status === "candidate" ? " (candidate)" : "");
  }
  function sitePopup(p) {
    var cand = p.status === "candidate";
    var box = el("div", "bw-popup bw-site-popup");
    box.appendChild(el("strong", null, siteTitle(p)));
    if (cand) box.appendChild(el("div", "bw-site-note", p.candidate_note));  // outputs.sites.candidate_note
    var table = el("table");
    // when the published number was issued, and in which numbering (a renumbering starts a new edition)
    var given = p.label_given ? p.label_given + " (numbering edition " + fmt(p.numbering_edition) + ")" : null;
    [["site id", p.site_id], ["number given", given], ["km along " + (p.corridor || "the river"), fmt(p.chainage_km, 2)],
     ["kind", p.kind], ["scale", p.scale],
     ["evidence on", p.bank_evidence], ["status", p.status], ["score", fmt(p.score, 2)],
     ["first seen", p.first_seen], ["last seen", p.last_seen], ["evidence", p.evidence]].forEach(function (kv) {
      if (kv[1] === null || kv[1] === undefined || kv[1] === "") return;
      var tr = el("tr");
      tr.appendChild(el("th", null, kv[0]));
      tr.appendChild(el("td", null, kv[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    // per-date values: one column per date, so many fields stay narrow
    var dates = el("table", "bw-site-dates");
    var head = el("tr");
    head.appendChild(el("th"));
    S.dates.forEach(function (d) { head.appendChild(el("th", null, d)); });
    dates.appendChild(head);
    var fields = [["vehicles", "vehicles"], ["large", "large_vehicle"], ["small", "small_vehicle"],
                  ["heavy equipment", "heavy_equipment"], ["heavy in water", "heavy_in_water"],
                  ["on sandbar", "vehicles_on_sandbar"], ["parking", "parking_vehicles"],
                  ["carried", "cargo_vehicles"]];
    function row(label, cls, value) {
      var tr = el("tr", cls);
      tr.appendChild(el("th", null, label));
      S.dates.forEach(function (d) {
        var o = (p.dates || {})[d];
        // no observation: the date's analysed imagery does not show the site (not seen, not idle)
        tr.appendChild(o ? el("td", null, value(o)) : el("td", "bw-site-unobserved", "not imaged"));
      });
      dates.appendChild(tr);
    }
    // how much of the site the date's imagery shows: where the image ends across it, counts may be low
    row("imaged", "bw-site-imaged", function (o) {
      if (o.imaged_share === null || o.imaged_share === undefined) return "–";
      return Math.round(o.imaged_share * 100) + "%" + (o.imaged_share < S.fully_imaged ? ": counts may be low" : "");
    });
    fields.forEach(function (f) { row(f[0], "bw-site-count", function (o) { return fmt(o[f[1]]); }); });
    S.countries.forEach(function (c) { row("→ " + c, "bw-site-share", function (o) { return shareText(o, c); }); });
    // what the shares rest on: real fronts are measured for cars, not for large vehicles (see the model card)
    row("fronts from cars / large", "bw-site-basis", function (o) {
      var b = o.share_from;
      return b ? fmt(b.small_vehicle || 0) + " / " + fmt(b.large_vehicle || 0) : "–";
    });
    // vehicles one behind another: the longest queue, and the longest convoy of identical ones
    row("longest queue / convoy", "bw-site-queue", function (o) {
      if (o.longest_queue === null || o.longest_queue === undefined) return "–";
      return fmt(o.longest_queue) + " / " + (o.convoy ? fmt(o.convoy) + " " + fmt(o.convoy_subclass) : "0");
    });
    // how reliable fronts were in that image, measured on its queued vehicles: the factor applied (pairs)
    row("front factor cars / large", "bw-site-fronts", function (o) {
      var m = o.front_reliability;
      function one(x) { return x ? "×" + fmt(x.applied, 2) + " (" + fmt(x.pairs) + ")" : "–"; }
      return m ? one(m.small_vehicle) + " / " + one(m.large_vehicle) : "–";
    });
    // snow, ice or cloud over much of that date's imagery: the detector over-counts cars on snow
    row("snow / ice / cloud", "bw-site-snow", function (o) {
      if (o.snow_cover === null || o.snow_cover === undefined) return "–";
      return Math.round(o.snow_cover * 100) + "%" +
        (withheldFor(o, "snow") ? ": counts left out" : o.snow_flag ? ": counts doubtful" : "");
    });
    // how much of the river's surface the land cover read as ice: on a frozen river vehicles cross on the ice
    row("river ice", "bw-site-ice", function (o) {
      if (o.river_ice === null || o.river_ice === undefined) return "–";
      return Math.round(o.river_ice * 100) + "%" + (o.river_ice >= 0.5 ? ": frozen" : "") +
        (withheldFor(o, "river ice") ? ": counts left out" : "");
    });
    // which detector counted the site: on JPEG imagery its JPEG variant, whose fronts (direction shares) are weaker
    row("detector", "bw-site-detector", function (o) {
      var names = o.detectors;
      if (!names || !names.length) return "–";
      var jpeg = names.some(function (n) { return n.indexOf(S.jpeg_detector) === 0; });
      return names.map(function (n) { return n.split("+")[0]; }).join(", ") +
        (jpeg ? ": JPEG imagery, direction less reliable" : "");
    });
    row("activity", null, function (o) { return fmt(o.activity_score, 2); });
    row("scale", null, function (o) { return fmt(o.scale); });
    box.appendChild(dates);
    return box;
  }
  if (S) {
    var siteAreas = L.geoJSON({ type: "FeatureCollection", features: S.features }, {
      style: function (f) {
        var c = siteColour(f.properties), cand = f.properties.status === "candidate";
        return { color: c, weight: cand ? 1.5 : 2, dashArray: cand ? "5 4" : null, fillColor: c,
                 fillOpacity: cand ? 0.04 : 0.18, className: "bw-site-area" + (cand ? " bw-site-area-candidate" : "") };
      },
      onEachFeature: function (f, layer) { layer.bindPopup(function () { return sitePopup(f.properties); }, { maxWidth: 520 }); }
    });
    var siteGroup = L.layerGroup([siteAreas]);
    S.features.forEach(function (f) {
      var p = f.properties, cand = p.status === "candidate";
      var label = el("span", null, siteLabel(p));
      label.style.setProperty("--bw-colour", siteColour(p));
      var marker = L.marker(f.anchor, {
        icon: L.divIcon({
          className: "bw-site bw-site-" + p.scale + (cand ? " bw-site-candidate" : ""), html: label,
          iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]
        }),
        title: siteTitle(p) + (numberOf(p) === null ? "" : ", km " + fmt(p.chainage_km, 2)),
        alt: siteTitle(p), riseOnHover: true, zIndexOffset: cand ? 0 : 1000
      });
      marker.bindPopup(function () { return sitePopup(p); }, { maxWidth: 520 });
      siteMarkers.push(marker);
      siteGroup.addLayer(marker);
    });
    overlays[S.name] = siteGroup;
  }

  // the sites in river order, the corridor summary and any summary tables (e.g. counts by class per km):
  // one collapsible panel at the bottom right
  function textTable(columns, rows, rowClass) {
    var table = el("table");
    var head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
    table.appendChild(head);
    rows.forEach(function (r, i) {
      var tr = el("tr", rowClass ? rowClass(i) : null);
      r.forEach(function (v) { tr.appendChild(el("td", null, v)); });
      table.appendChild(tr);
    });
    return table;
  }
  if ((data.tables && data.tables.length) || S) {
    var panel = L.control({ position: "bottomright" });
    panel.onAdd = function () {
      var box = el("div", "bw-tables leaflet-bar");
      if (S) {
        var det = el("details", "bw-sites-panel");
        det.open = true;
        det.appendChild(el("summary", null, S.name + ", in river order"));
        S.summary.forEach(function (line) { det.appendChild(el("div", "bw-site-summary", line)); });
        var columns = ["#", "km", "kind", "scale", "banks", "status"];
        S.dates.forEach(function () { columns.push("vehicles L/S/H", "→ " + S.countries.join("/")); });
        var rows = S.features.map(function (f) {
          var p = f.properties;
          var r = [siteLabel(p), fmt(p.chainage_km, 2), p.kind, p.scale, p.bank_evidence, p.status];
          S.dates.forEach(function (d) {
            var o = (p.dates || {})[d];
            if (!o) { r.push("not imaged", "–"); return; }
            // * : the date's image ends across the site, its counts may be low (the popup gives the share imaged)
            var cut = o.imaged_share !== null && o.imaged_share !== undefined && o.imaged_share < S.fully_imaged;
            r.push(fmt(o.vehicles) + (cut ? "*" : "") + " " +
                   [o.large_vehicle, o.small_vehicle, o.heavy_equipment].map(function (v) { return fmt(v); }).join("/"));
            r.push(o.share_toward ? S.countries.map(function (c) { return shareText(o, c); }).join(" / ") : "–");
          });
          return r.map(function (v) { return fmt(v); });
        });
        var table = textTable(columns, rows, function (i) {
          return "bw-site-row" + (S.features[i].properties.status === "candidate" ? " bw-site-row-candidate" : "");
        });
        table.className = "bw-sites-table";
        var dateRow = el("tr", "bw-site-date-head");
        var blank = el("th");
        blank.colSpan = 6;
        dateRow.appendChild(blank);
        S.dates.forEach(function (d) {
          var th = el("th", null, d);
          th.colSpan = 2;
          dateRow.appendChild(th);
        });
        table.insertBefore(dateRow, table.firstChild);
        // a row opens its site on the map
        Array.prototype.forEach.call(table.querySelectorAll("tr.bw-site-row"), function (tr, i) {
          tr.title = "show " + siteTitle(S.features[i].properties).toLowerCase() + " on the map";
          tr.addEventListener("click", function () {
            var m = siteMarkers[i];
            if (!map.hasLayer(m)) overlays[S.name].addTo(map);
            map.setView(m.getLatLng(), Math.max(map.getZoom(), 14));
            m.openPopup();
          });
        });
        det.appendChild(table);
        box.appendChild(det);
      }
      (data.tables || []).forEach(function (t) {
        var det = el("details");
        det.open = !S; // with a site register, the other tables start folded
        det.appendChild(el("summary", null, t.title));
        det.appendChild(textTable(t.columns, t.rows));
        box.appendChild(det);
      });
      L.DomEvent.disableScrollPropagation(box);
      L.DomEvent.disableClickPropagation(box);
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
  siteMarkers.forEach(function (m) { fit.extend(m.getLatLng()); });
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
