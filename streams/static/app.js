// assetstream pages: the asset page (Details · Related · Dashboard), the
// account page (MRR per currency, its step chart and movements, a page of its
// assets) and a not-found page, drawn from the JSON embedded in the HTML.
// No framework, no network requests, no innerHTML with data: every value goes
// in through textContent, so an id or a product name cannot inject markup.
// Money and quantities are shown exactly as published (strings); they become
// numbers only to place chart points on the screen.
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "testid") node.setAttribute("data-testid", value);
      else node.setAttribute(key, String(value));
    });
  }

  function append(node, children) {
    if (children === null || children === undefined) return;
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      if (Array.isArray(child)) { append(node, child); return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
  }

  function money(value, currency) {
    return value === null || value === undefined ? "—" : currency + " " + value;
  }

  function signed(value) {
    if (value === null || value === undefined) return "—";
    var text = String(value);
    return text.charAt(0) === "-" || /^0(\.0*)?$/.test(text) ? text : "+" + text;
  }

  function label(text) {
    return text ? String(text).replace(/_/g, " ") : "—";
  }

  function yesNo(value) {
    return value === true ? "Yes" : value === false ? "No" : "—";
  }

  function assetLink(id, testid) {
    return el("a", { href: "/ui/assets/" + encodeURIComponent(id), testid: testid, text: id });
  }

  function months(n) {
    if (n === null || n === undefined) return "—";
    return n + (Number(n) === 1 ? " month" : " months");
  }

  function parseDay(iso) {
    var p = iso.split("-");
    return Date.UTC(Number(p[0]), Number(p[1]) - 1, Number(p[2])) / 86400000;
  }

  function prettyDate(iso) {
    if (!iso) return "—";
    var p = iso.split("-");
    return MONTHS[Number(p[1]) - 1] + " " + Number(p[2]) + ", " + p[0];
  }

  function badge(status) {
    return el("span", { class: "badge badge-" + status, testid: "status-badge", text: label(status) });
  }

  function card(title, body, testid) {
    return el("section", { class: "card", testid: testid }, [
      title ? el("h2", { class: "card-title", text: title }) : null,
      body,
    ]);
  }

  // ---- tables ---------------------------------------------------------------

  function table(testid, rowTestid, columns, rows, empty, rowAttrs) {
    var head = el("tr", null, columns.map(function (c) {
      return el("th", { scope: "col", class: c.num ? "num" : null, text: c.title });
    }));
    var body = rows.length
      ? rows.map(function (row, index) {
          var attrs = Object.assign({ testid: rowTestid, "data-index": index }, rowAttrs ? rowAttrs(row) : {});
          return el("tr", attrs, columns.map(function (c) {
            var cell = c.render ? c.render(row) : row[c.key];
            var td = el("td", { class: c.num ? "num" : null, "data-field": c.key, "data-label": c.title });
            append(td, typeof cell === "object" && cell !== null ? cell : String(cell === null || cell === undefined ? "—" : cell));
            return td;
          }));
        })
      : [el("tr", { class: "empty" }, el("td", { colspan: columns.length, text: empty }))];
    return el("div", { class: "table-wrap" }, el("table", { class: "data", testid: testid }, [
      el("thead", null, head),
      el("tbody", null, body),
    ]));
  }

  // ---- chart ----------------------------------------------------------------

  // Axis top and tick step: 1, 2, 2.5 or 5 times a power of ten, about 4 ticks.
  function niceScale(max) {
    if (!(max > 0)) return { top: 1, step: 0.25 };
    var raw = max * 1.1 / 4;
    var exp = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / exp;
    var step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * exp;
    return { top: step * Math.ceil(max * 1.1 / step), step: step };
  }

  function monthTicks(from, to, most) {
    // First days of months inside [from, to], thinned to at most `most` labels.
    var ticks = [];
    var d = new Date(from * 86400000);
    var y = d.getUTCFullYear(), m = d.getUTCMonth() + 1;
    if (m > 11) { m = 0; y += 1; }
    while (true) {
      var day = Date.UTC(y, m, 1) / 86400000;
      if (day > to) break;
      ticks.push({ day: day, text: MONTHS[m] + " " + String(y).slice(2) });
      m += 1;
      if (m > 11) { m = 0; y += 1; }
    }
    var step = Math.max(1, Math.ceil(ticks.length / most));
    return ticks.filter(function (_, i) { return i % step === 0; });
  }

  // A step chart of one series: `spans` are {start_date, end_date (null: open), value}
  // drawn from `o.from` to `o.to` (day numbers), with `o.today` marked and vertical
  // `o.markers` ({date, kind, text}) where something happened.
  function stepChart(series, title, spans, o) {
    // Draw at about the on-screen width so labels keep their size on a phone.
    var W = Math.round(Math.min(720, Math.max(300, (window.innerWidth || 720) - 64)));
    var H = W < 500 ? 210 : 250, L = 52, R = 16, T = 34, B = 34;
    var from = o.from, to = o.to > o.from ? o.to : o.from + 1;
    var today = parseDay(o.today);
    var values = spans.map(function (p) { return Number(p.value); });
    var scale = niceScale(Math.max.apply(null, values.concat([0])));
    var top = scale.top;
    function x(day) { return L + (Math.min(Math.max(day, from), to) - from) / (to - from) * (W - L - R); }
    function y(v) { return T + (1 - v / top) * (H - T - B); }
    function r(n) { return Math.round(n * 10) / 10; }
    function endOf(p) { return p.end_date ? parseDay(p.end_date) : to; }

    var grid = [];
    for (var i = 0; i * scale.step <= top + 1e-9; i++) {
      var v = i * scale.step;
      grid.push(svg("line", { class: "grid", x1: L, x2: W - R, y1: r(y(v)), y2: r(y(v)) }));
      grid.push(svg("text", { class: "axis-label", x: L - 8, y: r(y(v)) + 4, "text-anchor": "end",
        text: o.format(v) }));
    }
    monthTicks(from, to, W < 500 ? 3 : 6).forEach(function (t) {
      grid.push(svg("line", { class: "tick", x1: r(x(t.day)), x2: r(x(t.day)), y1: H - B, y2: H - B + 5 }));
      var tx0 = r(x(t.day));
      // Keep the first and last labels inside the drawing.
      var anchor = tx0 > W - R - 24 ? "end" : tx0 < L + 24 ? "start" : "middle";
      grid.push(svg("text", { class: "axis-label", x: tx0, y: H - B + 18, "text-anchor": anchor,
        text: t.text }));
    });

    // Path: along each span at its value; down to zero across any gap.
    var d = "", area = "", prevEnd = null;
    spans.forEach(function (p, idx) {
      var x0 = r(x(parseDay(p.start_date))), x1 = r(x(endOf(p))), yv = r(y(values[idx]));
      if (prevEnd === null) { d += "M" + x0 + " " + yv; }
      else if (prevEnd !== p.start_date) { d += "V" + r(y(0)) + "M" + x0 + " " + r(y(0)) + "V" + yv; }
      else { d += "V" + yv; }
      d += "H" + x1;
      area += "M" + x0 + " " + r(y(0)) + "V" + yv + "H" + x1 + "V" + r(y(0)) + "Z";
      prevEnd = p.end_date;
    });

    // Label only where the value changes, so a long run of renewals stays readable.
    var labels = spans.map(function (p, idx) {
      if (idx > 0 && values[idx] === values[idx - 1]) return null;
      var cx = r(x(parseDay(p.start_date))), cy = r(y(values[idx]));
      return svg("text", { class: "point-label", x: cx + 7, y: cy - 9, text: p.value });
    });

    var points = spans.map(function (p, idx) {
      var cx = r(x(parseDay(p.start_date))), cy = r(y(values[idx]));
      var until = p.end_date ? prettyDate(p.end_date) : "onwards";
      return svg("circle", {
        class: "point point-" + o.kind, cx: cx, cy: cy, r: 4.5, testid: "chart-point",
        "data-series": series, "data-start": p.start_date, "data-end": p.end_date || "",
        "data-value": p.value,
      }, svg("title", { text: prettyDate(p.start_date) + " – " + until + ": " + p.value }));
    });

    var marks = (o.markers || []).map(function (m) {
      var mx = r(x(parseDay(m.date)));
      return svg("g", { class: "marker marker-" + m.kind, testid: "chart-marker", "data-series": series,
        "data-kind": m.kind, "data-date": m.date }, [
        svg("line", { x1: mx, x2: mx, y1: T - 6, y2: H - B }),
        svg("path", { d: "M" + mx + " " + (T - 4) + "l-4 -6h8z" }),
        svg("title", { text: m.text + " · " + prettyDate(m.date) }),
      ]);
    });

    var tx = r(x(today));
    var todayMark = svg("g", { class: "today", testid: "chart-today", "data-date": o.today }, [
      svg("line", { x1: tx, x2: tx, y1: 18, y2: H - B }),
      svg("text", { x: tx + (tx > W - 140 ? -6 : 6), y: 14, "text-anchor": tx > W - 140 ? "end" : "start",
        text: "Today · " + o.today }),
    ]);

    var chart = svg("svg", {
      class: "chart", viewBox: "0 0 " + W + " " + H, role: "img", testid: "chart-" + series,
      "aria-label": o.aria, preserveAspectRatio: "xMidYMid meet",
    }, [
      svg("g", null, grid),
      svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
      svg("path", { class: "area area-" + o.kind, d: area }),
      svg("path", { class: "line line-" + o.kind, d: d, testid: "chart-line-" + series }),
      svg("g", null, marks),
      todayMark,
      svg("g", null, labels),
      svg("g", null, points),
    ]);
    var legend = o.legend && o.legend.length
      ? el("div", { class: "legend" }, o.legend.map(function (item) {
          return el("span", { class: "legend-item legend-" + item.kind, text: item.text });
        }))
      : null;
    return card(title, [el("div", { class: "chart-wrap" }, chart), legend], "chart-card-" + series);
  }

  function axisMoney(v) {
    return v >= 1000 ? (Math.round(v / 100) / 10) + "k" : String(Math.round(v * 100) / 100);
  }

  // ---- asset page -------------------------------------------------------------

  function detailsPanel(s) {
    var product = s.product_name ? s.product_name + " (" + s.product_code + ")" : s.product_code;
    var fields = [
      ["account", "Account", el("a", { href: "/ui/accounts/" + encodeURIComponent(s.account_id), text: s.account_id })],
      ["product", "Product", product],
      ["status", "Status", badge(s.status)],
      ["current-quantity", "Current quantity", s.current_quantity],
      ["current-mrr", "Current MRR", money(s.current_mrr, s.currency)],
      ["lifecycle-start", "Lifecycle start date", s.lifecycle_start_date],
      ["lifecycle-end", "Lifecycle end date", s.lifecycle_end_date],
      ["renewal-term", "Renewal term", months(s.renewal_term_months)],
      ["total-lifecycle-amount", "Total lifecycle amount", money(s.total_lifecycle_amount, s.currency)],
      ["price-term", "Price term", months(s.price_term_months)],
      ["billing-anchor", "Billing anchor date", s.billing_anchor_date || "—"],
      ["currency", "Currency", s.currency],
      ["auto-renew", "Auto-renew", yesNo(s.auto_renew)],
      ["next-renewal", "Next renewal date", s.next_renewal_date || "—"],
      ["ended-by", "Ended by", s.ended_by ? label(s.ended_by) : "—"],
    ];
    var list = el("dl", { class: "details" }, fields.map(function (f) {
      var dd = el("dd", { testid: "detail-" + f[0] });
      append(dd, f[2] === null || f[2] === undefined ? "—" : f[2]);
      return el("div", { class: "detail" }, [el("dt", { text: f[1] }), dd]);
    }));
    var meta = el("p", { class: "meta", testid: "snapshot-meta",
      text: "Snapshot version " + s.version + " as of " + s.as_of +
        (s.updated_by_event_id ? " · last change by event " + s.updated_by_event_id : "") });
    return [card("Asset details", list, "details-card"), meta];
  }

  function relatedPanel(s) {
    var cur = s.currency;
    var actions = table("actions-table", "action-row", [
      { key: "category", title: "Category", render: function (a) { return label(a.category); } },
      { key: "subtype", title: "Subtype", render: function (a) { return a.subtype ? label(a.subtype) : "—"; } },
      { key: "related_asset_id", title: "Related asset", render: function (a) {
        // Transfers and swaps: the target on the source's action, the source on the target's.
        return a.related_asset_id ? assetLink(a.related_asset_id, "related-link") : "—";
      } },
      { key: "effective_date", title: "Effective date" },
      { key: "action_time", title: "Action time", render: function (a) { return (a.action_time || "").replace("T", " ").replace("Z", " UTC"); } },
      { key: "quantity_change", title: "Quantity change", num: true, render: function (a) { return signed(a.quantity_change); } },
      { key: "mrr_change", title: "MRR change", num: true, render: function (a) { return signed(a.mrr_change); } },
      { key: "amount_change", title: "Amount change", num: true, render: function (a) { return signed(a.amount_change); } },
      { key: "order_id", title: "Order", render: function (a) { return a.order_id || "—"; } },
    ], s.actions || [], "No actions yet.");
    var periods = table("periods-table", "period-row", [
      { key: "start_date", title: "Start date" },
      { key: "end_date", title: "End date" },
      { key: "quantity", title: "Quantity", num: true },
      { key: "mrr", title: "MRR (" + cur + ")", num: true },
      { key: "amount", title: "Amount (" + cur + ")", num: true },
    ], s.state_periods || [], "No state periods.");
    var out = [
      card("Asset Actions (" + (s.actions || []).length + ")", actions, "actions-card"),
      card("Asset State Periods (" + (s.state_periods || []).length + ")", periods, "periods-card"),
    ];
    if (Array.isArray(s.voided_events)) {
      out.push(card("Voided events (" + s.voided_events.length + ")", table("voided-table", "voided-row", [
        { key: "event_id", title: "Voided event" },
        { key: "voided_by", title: "Voided by" },
        { key: "reason", title: "Reason", render: function (v) { return v.reason || "—"; } },
      ], s.voided_events, "No voided events."), "voided-card"));
    }
    if (s.pending_events && s.pending_events.length) {
      out.push(card("Pending events (" + s.pending_events.length + ")", table("pending-table", "pending-row", [
        { key: "event_id", title: "Event" },
        { key: "type", title: "Type" },
        { key: "effective_date", title: "Effective date" },
        { key: "reason_code", title: "Reason code" },
        { key: "reason", title: "Reason" },
        { key: "waiting", title: "Grace", render: function (p) {
          // SPEC §9.4: an automatic renewal may still make room; the grace has not started.
          return p.waiting ? "waiting for the renewal" : "running";
        } },
      ], s.pending_events, ""), "pending-card"));
    }
    return out;
  }

  function kpi(testid, title, value, note) {
    return el("div", { class: "kpi", testid: testid }, [
      el("div", { class: "kpi-title", text: title }),
      el("div", { class: "kpi-value", text: value }),
      note ? el("div", { class: "kpi-note" }, note) : null,
    ]);
  }

  // Renewals (explicit or automatic) and price changes, marked on the charts.
  var MARKED = {
    renewal: { kind: "renewal", text: "Renewal" },
    auto_renewal: { kind: "auto_renewal", text: "Automatic renewal" },
    price_change: { kind: "price_change", text: "Price change" },
  };

  function markersOf(s) {
    return (s.actions || []).map(function (a) {
      var mark = a.category === "renewal" ? MARKED[a.subtype === "auto_renewal" ? "auto_renewal" : "renewal"]
        : a.category === "price_change" ? MARKED.price_change : null;
      return mark ? { date: a.effective_date, kind: mark.kind, text: mark.text } : null;
    }).filter(Boolean);
  }

  function termNote(s) {
    var daysLeft = parseDay(s.lifecycle_end_date) - parseDay(s.as_of);
    var end = el("span", { class: "nowrap", text: s.lifecycle_end_date });
    if (daysLeft <= 0) return ["ended ", end];
    if (s.ended_by) return [daysLeft + " days left · ends by " + label(s.ended_by) + " ", end];
    if (s.next_renewal_date) {
      return [daysLeft + " days left · renews automatically ", el("span", { class: "nowrap", text: s.next_renewal_date })];
    }
    return daysLeft + " days left in term";
  }

  function dashboardPanel(s) {
    var periods = s.state_periods || [];
    var kpis = el("div", { class: "kpis" }, [
      kpi("kpi-quantity", "Current quantity", s.current_quantity, "as of " + s.as_of),
      kpi("kpi-mrr", "Current MRR", money(s.current_mrr, s.currency), null),
      kpi("kpi-total", "Total lifecycle amount", money(s.total_lifecycle_amount, s.currency),
        periods.length + (periods.length === 1 ? " state period" : " state periods")),
      kpi("kpi-status", "Status", label(s.status), termNote(s)),
    ]);
    var start = parseDay(s.lifecycle_start_date), end = parseDay(s.lifecycle_end_date);
    var today = parseDay(s.as_of);
    var markers = markersOf(s);
    var seen = {};
    var legend = markers.filter(function (m) {
      if (seen[m.kind]) return false;
      seen[m.kind] = true;
      return true;
    });
    function chart(key, series, title, format) {
      var spans = periods.map(function (p) {
        return { start_date: p.start_date, end_date: p.end_date, value: p[key] };
      });
      return stepChart(series, title, spans, {
        kind: series, from: Math.min(start, today), to: Math.max(end, today), today: s.as_of,
        format: format, markers: markers, legend: legend,
        aria: title + " from " + s.lifecycle_start_date + " to " + s.lifecycle_end_date,
      });
    }
    return [
      kpis,
      chart("quantity", "quantity", "Quantity over the lifecycle", function (v) {
        return String(Math.round(v * 100) / 100);
      }),
      chart("mrr", "mrr", "MRR over the lifecycle (" + s.currency + ")", axisMoney),
    ];
  }

  function tabs(panels) {
    var bar = el("div", { class: "tabs", role: "tablist" });
    var sections = [];
    panels.forEach(function (p) {
      var button = el("button", {
        type: "button", role: "tab", id: "tab-" + p.id, class: "tab", testid: "tab-" + p.id,
        "aria-controls": "panel-" + p.id, text: p.title,
      });
      var section = el("section", {
        role: "tabpanel", id: "panel-" + p.id, class: "panel", testid: "panel-" + p.id,
        "aria-labelledby": "tab-" + p.id,
      }, p.render());
      button.addEventListener("click", function () { select(p.id, true); });
      bar.appendChild(button);
      sections.push(section);
    });
    function select(id, push) {
      panels.forEach(function (p) {
        var on = p.id === id;
        document.getElementById("tab-" + p.id).setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById("panel-" + p.id).hidden = !on;
      });
      if (push && history.replaceState) history.replaceState(null, "", "#" + id);
    }
    var wrap = el("div", null, [bar].concat(sections));
    return { node: wrap, select: select };
  }

  function assetPage(root, s) {
    var title = s.product_name || s.product_code || s.asset_id;
    root.appendChild(el("div", { class: "page-head" }, [
      el("div", { class: "page-kicker", text: "Asset" }),
      el("h1", { testid: "asset-title" }, [title, " ", badge(s.status)]),
      el("p", { class: "page-sub" }, [
        el("span", { testid: "asset-id", text: s.asset_id }),
        " · ",
        el("a", { href: "/ui/accounts/" + encodeURIComponent(s.account_id), testid: "account-link", text: s.account_id }),
      ]),
    ]));
    var t = tabs([
      { id: "details", title: "Details", render: function () { return detailsPanel(s); } },
      { id: "related", title: "Related", render: function () { return relatedPanel(s); } },
      { id: "dashboard", title: "Dashboard", render: function () { return dashboardPanel(s); } },
    ]);
    root.appendChild(t.node);
    var initial = (location.hash || "").slice(1);
    t.select(["details", "related", "dashboard"].indexOf(initial) >= 0 ? initial : "details", false);
  }

  // ---- account page -------------------------------------------------------------

  function accountCurrency(part, asOf) {
    var cur = part.currency;
    var timeline = part.mrr_timeline || [];
    var kpis = el("div", { class: "kpis" }, [
      kpi("account-mrr-" + cur, "Current MRR · " + cur, money(part.current_mrr, cur), "as of " + asOf),
      kpi("account-arr-" + cur, "Current ARR · " + cur, money(part.current_arr, cur), "12 × MRR"),
      kpi("account-active-" + cur, "Active assets · " + cur, String(part.active_assets), null),
    ]);
    var out = [el("h2", { class: "section-title", testid: "currency-" + cur, text: cur }), kpis];
    if (timeline.length) {
      var today = parseDay(asOf);
      var first = parseDay(timeline[0].start_date);
      var lastStart = parseDay(timeline[timeline.length - 1].start_date);
      // The open last span is drawn a while past its start (or past today).
      var to = Math.max(lastStart, today);
      to += Math.max(30, Math.round((to - Math.min(first, today)) * 0.08));
      var spans = timeline.map(function (t) {
        return { start_date: t.start_date, end_date: t.end_date, value: t.mrr };
      });
      out.push(stepChart("account-mrr-" + cur, "MRR over time (" + cur + ")", spans, {
        kind: "mrr", from: Math.min(first, today), to: to, today: asOf, format: axisMoney,
        aria: "Account MRR in " + cur + " from " + timeline[0].start_date,
      }));
    }
    var movements = part.movements || [];
    out.push(card("MRR movements · " + cur + " (" + movements.length + ")",
      table("movements-table-" + cur, "movement-row", [
        { key: "date", title: "Date", render: function (m) {
          return m.scheduled
            ? [m.date, " ", el("span", { class: "tag tag-scheduled", testid: "scheduled-tag", text: "scheduled" })]
            : m.date;
        } },
        { key: "type", title: "Movement", render: function (m) {
          return el("span", { class: "movement movement-" + m.type, text: label(m.type) });
        } },
        { key: "mrr_before", title: "MRR before", num: true },
        { key: "mrr_after", title: "MRR after", num: true },
        { key: "mrr_change", title: "Change", num: true, render: function (m) { return signed(m.mrr_change); } },
      ], movements, "No movements.", function (m) {
        return { "data-scheduled": m.scheduled ? "true" : "false", class: m.scheduled ? "scheduled" : null };
      }), "movements-card-" + cur));
    return out;
  }

  function assetsCard(a) {
    var shown = a.assets.length;
    var note = a.count
      ? (a.after ? "Assets after " + a.after : "Assets 1–" + shown) + " of " + a.count
      : "No assets left on this account.";
    var base = "/ui/accounts/" + encodeURIComponent(a.account_id);
    var nav = el("p", { class: "pager", testid: "assets-pager" }, [
      el("span", { testid: "assets-shown", text: note }),
      a.after ? [" · ", el("a", { href: base, testid: "first-page", text: "First page" })] : null,
      a.next_after
        ? [" · ", el("a", { href: base + "?after=" + encodeURIComponent(a.next_after),
            testid: "next-page", text: "Next " + Math.min(a.limit, a.count) + " →" })]
        : null,
    ]);
    return card("Assets (" + a.count + ")", [table("account-assets-table", "account-asset-row", [
      { key: "asset_id", title: "Asset", render: function (r) { return assetLink(r.asset_id); } },
      { key: "product", title: "Product", render: function (r) { return r.product_name || r.product_code || "—"; } },
      { key: "status", title: "Status", render: function (r) { return badge(r.status); } },
      { key: "current_quantity", title: "Quantity", num: true },
      { key: "current_mrr", title: "MRR", num: true, render: function (r) { return money(r.current_mrr, r.currency); } },
      { key: "lifecycle_start_date", title: "Start" },
      { key: "lifecycle_end_date", title: "End" },
      { key: "auto_renew", title: "Auto-renew", render: function (r) { return yesNo(r.auto_renew); } },
    ], a.assets, "No assets."), nav], "account-assets-card");
  }

  function accountPage(root, a) {
    var record = a.record;
    root.appendChild(el("div", { class: "page-head" }, [
      el("div", { class: "page-kicker", text: "Account" }),
      el("h1", { testid: "account-title", text: a.account_id }),
      el("p", { class: "page-sub", text: a.count + (a.count === 1 ? " asset" : " assets") +
        (record ? " · record version " + record.version + " as of " + record.as_of : "") }),
    ]));
    if (record) {
      (record.currencies || []).forEach(function (part) {
        append(root, accountCurrency(part, record.as_of));
      });
    } else {
      root.appendChild(card(null, el("p", { class: "notice", testid: "no-record",
        text: "No MRR record for this account yet: the worker publishes it on accounts.mrr." }),
        "no-record-card"));
    }
    root.appendChild(assetsCard(a));
  }

  function notFoundPage(root, info) {
    root.appendChild(card(null, [
      el("h1", { testid: "not-found", text: (info.kind === "account" ? "Account" : "Asset") + " not found" }),
      el("p", { text: "No " + info.kind + " with id “" + info.id + "” is in the read model yet. " +
        "If it was just ordered, the snapshot may still be on its way." }),
    ], "not-found-card"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("app");
    var data = JSON.parse(document.getElementById("page-data").textContent);
    var page = document.body.getAttribute("data-page");
    if (page === "asset") assetPage(root, data);
    else if (page === "account") accountPage(root, data);
    else notFoundPage(root, data);
    root.setAttribute("data-ready", "true");
  });
})();
