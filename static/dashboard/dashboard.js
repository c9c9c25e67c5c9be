/* Branchberg revenue dashboard: draws the charts from the django-chartjs JSON endpoints and
 * refreshes charts, cards, events and alerts in place every 30 seconds (no full reload).
 *
 * Amounts arrive as integer minor units with the currency's exponent; the server formats every
 * table cell and card (format_money). The browser only scales numbers for axes and tooltips.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var form = document.getElementById("filters");
  var statusEl = document.getElementById("refresh-status");
  var charts = {};
  var payloads = {};
  var inFlight = false;
  var pending = false;
  var lastRefresh = 0;
  var query = new URLSearchParams(config.query);
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var ZONE = config.timeZone;

  function scaled(value, exponent) {
    return value / Math.pow(10, exponent || 0);
  }

  function money(value, payload) {
    var exponent = payload.exponent || 0;
    return (
      scaled(value, exponent).toLocaleString("en-US", {
        minimumFractionDigits: exponent,
        maximumFractionDigits: exponent,
      }) + " " + payload.currency
    );
  }

  function compact(value, payload) {
    return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(
      scaled(value, payload.exponent)
    );
  }

  function shortDate(iso) {
    var parts = iso.split("-");
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return months[Number(parts[1]) - 1] + " " + Number(parts[2]);
  }

  var grid = "rgba(15, 23, 42, 0.07)";
  var ink = "#475569";

  function baseOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : { duration: 400 },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, color: ink, padding: 14 } },
        tooltip: { backgroundColor: "#0f172a", padding: 10, cornerRadius: 6 },
      },
    };
  }

  // Chart options per chart; callbacks read the latest payload so a currency switch rescales.
  var builders = {
    daily: function () {
      var options = baseOptions();
      options.interaction = { mode: "index", intersect: false };
      options.scales = {
        x: {
          grid: { display: false },
          ticks: {
            color: ink,
            maxRotation: 0,
            autoSkipPadding: 18,
            callback: function (value) {
              return shortDate(this.getLabelForValue(value));
            },
          },
        },
        y: {
          grid: { color: grid },
          border: { display: false },
          ticks: {
            color: ink,
            callback: function (value) {
              return compact(value, payloads.daily);
            },
          },
        },
      };
      options.plugins.tooltip.callbacks = {
        title: function (items) {
          return items.length ? items[0].label : "";
        },
        label: function (ctx) {
          return ctx.dataset.label + ": " + money(ctx.parsed.y, payloads.daily);
        },
      };
      // The forecast band's two bounds are drawn (filled between) but not listed in the legend.
      options.plugins.legend.labels.filter = function (item, data) {
        return !data.datasets[item.datasetIndex].bound;
      };
      return { type: "line", options: options };
    },
    providers: function () {
      var options = baseOptions();
      options.cutout = "62%";
      options.plugins.legend.position = "right";
      options.plugins.tooltip.callbacks = {
        label: function (ctx) {
          return ctx.label + ": " + money(ctx.parsed, payloads.providers);
        },
      };
      return { type: "doughnut", options: options };
    },
    monthly: function () {
      var options = baseOptions();
      options.plugins.legend.labels.sort = function (a, b) {
        return a.datasetIndex - b.datasetIndex;
      };
      options.interaction = { mode: "index", intersect: false };
      options.scales = {
        x: { grid: { display: false }, ticks: { color: ink } },
        y: {
          grid: { color: grid },
          border: { display: false },
          ticks: {
            color: ink,
            callback: function (value) {
              return compact(value, payloads.monthly);
            },
          },
        },
      };
      options.plugins.tooltip.callbacks = {
        label: function (ctx) {
          return ctx.dataset.label + ": " + money(ctx.parsed.y, payloads.monthly);
        },
      };
      return { type: "bar", options: options };
    },
    payouts: function () {
      var options = baseOptions();
      options.indexAxis = "y";
      options.plugins.legend.display = false;
      options.plugins.tooltip.callbacks = {
        title: function () {
          return "";
        },
        label: function (ctx) {
          var n = ctx.parsed.x;
          return ctx.dataset.label + ": " + n + (n === 1 ? " payout" : " payouts");
        },
      };
      options.scales = {
        x: { stacked: true, display: false, grid: { display: false } },
        y: { stacked: true, display: false, grid: { display: false } },
      };
      return { type: "bar", options: options };
    },
  };

  function renderTable(container, table) {
    var el = document.createElement("table");
    el.className = "data compact";
    var thead = el.createTHead().insertRow();
    table.columns.forEach(function (name, i) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      if (i > 0) th.className = "num";
      thead.appendChild(th);
    });
    var body = el.createTBody();
    table.rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (cell, i) {
        var td = tr.insertCell();
        td.textContent = cell;
        if (i > 0) td.className = "num";
      });
    });
    // Wide tables scroll sideways inside their box on a phone; headers and amounts never wrap.
    var scroller = document.createElement("div");
    scroller.className = "table-scroll";
    scroller.appendChild(el);
    container.replaceChildren(scroller);
  }

  function renderPayoutStatuses(panel, payload) {
    var list = panel.querySelector("[data-payout-statuses]");
    if (!list || !payload.statuses) return;
    var items = payload.statuses.map(function (status) {
      var li = document.createElement("li");
      li.className = "status-item" + (status.count ? "" : " is-zero");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = status.color;
      swatch.setAttribute("aria-hidden", "true");
      var label = document.createElement("span");
      label.className = "status-label";
      label.textContent = status.label;
      var count = document.createElement("strong");
      count.className = "status-count";
      count.textContent = status.count;
      var amounts = document.createElement("span");
      amounts.className = "status-amounts";
      amounts.textContent = status.amounts.length ? status.amounts.join(" · ") : "—";
      li.append(swatch, label, count, amounts);
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function hasData(payload) {
    return payload.datasets.some(function (dataset) {
      return dataset.data.some(function (value) {
        return value !== 0 && value !== null;
      });
    });
  }

  function draw(name, canvas, payload) {
    payloads[name] = payload;
    var panel = canvas.closest("[data-chart-panel]");
    var chart = charts[name];
    if (!chart) {
      var spec = builders[name]();
      chart = new Chart(canvas, {
        type: spec.type,
        data: { labels: payload.labels, datasets: payload.datasets },
        options: spec.options,
      });
      charts[name] = chart;
    } else {
      chart.data.labels = payload.labels;
      chart.data.datasets = payload.datasets;
      chart.update("none");
    }
    panel.classList.toggle("is-empty", !hasData(payload));
    panel.querySelector(".chart-empty").hidden = hasData(payload);
    panel.querySelector("[data-chart-summary]").textContent = payload.summary;
    var note = panel.querySelector("[data-chart-note]");
    if (note && payload.currency) note.textContent = payload.currency + " · " + payload.range_days + " days";
    renderTable(panel.querySelector("[data-chart-table]"), payload.table);
    renderPayoutStatuses(panel, payload);
    canvas.dataset.loaded = "true";
  }

  function getJSON(url) {
    return fetch(url + "?" + query.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      return response.json().then(
        function (body) {
          if (!response.ok) {
            var error = new Error(body.message || "HTTP " + response.status);
            error.status = response.status;
            throw error;
          }
          return body;
        },
        function () {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          throw error;
        }
      );
    });
  }

  function updateCurrencies(currencies) {
    var select = form.elements.currency;
    if (!select || select.tagName !== "SELECT") return;
    var current = Array.prototype.map.call(select.options, function (o) {
      return o.value;
    });
    if (current.join() === currencies.join()) return;
    var selected = select.value;
    select.replaceChildren.apply(
      select,
      currencies.map(function (code) {
        var option = new Option(code, code, false, code === selected);
        return option;
      })
    );
  }

  function applySummary(body) {
    document.getElementById("morning").innerHTML = body.morning_html;
    document.getElementById("kpis").innerHTML = body.kpis_html;
    document.getElementById("events").innerHTML = body.events_html;
    document.getElementById("alerts").innerHTML = body.alerts_html;
    document.querySelector("[data-alert-count]").textContent = body.alert_count;
    updateCurrencies(body.currencies);
  }

  function updateRangeNote() {
    var note = document.querySelector("[data-range-note]");
    var entity = form.elements.entity;
    var text = query.get("currency") + " · last " + query.get("range") + " days";
    if (entity && entity.value) text += " · " + entity.options[entity.selectedIndex].text;
    note.textContent = text;
  }

  function refresh(chartsOnly) {
    if (inFlight) {
      pending = true; // filters changed mid-refresh: run again with them once this one lands
      return Promise.resolve();
    }
    inFlight = true;
    // The page arrives with its cards and lists rendered; the first round only draws the charts.
    var jobs = chartsOnly ? [] : [getJSON(config.endpoints.summary).then(applySummary)];
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.dataset.chart;
      jobs.push(
        getJSON(config.endpoints[name]).then(function (payload) {
          draw(name, canvas, payload);
        })
      );
    });
    return Promise.allSettled(jobs).then(function (results) {
      inFlight = false;
      lastRefresh = Date.now();
      if (pending) {
        pending = false;
        refresh();
      }
      var failed = results.filter(function (r) {
        return r.status === "rejected";
      });
      if (!failed.length) {
        var time = new Date().toLocaleTimeString("en-US", { timeZone: ZONE, timeZoneName: "short" });
        statusEl.textContent = "Updated " + time + " · refreshes every " + config.refreshSeconds + " s";
        statusEl.classList.remove("is-error");
        return;
      }
      var reason = failed[0].reason;
      statusEl.classList.add("is-error");
      statusEl.textContent =
        reason.status === 403
          ? "Your session has ended: reload the page to sign in again."
          : "Could not refresh (" + reason.message + "). Retrying in " + config.refreshSeconds + " s.";
    });
  }

  function onFilterChange(event) {
    if (event) event.preventDefault();
    var data = new FormData(form);
    query = new URLSearchParams();
    data.forEach(function (value, key) {
      if (value !== "") query.set(key, value);
    });
    if (!query.has("range")) query.set("range", "90");
    if (!query.has("currency")) query.set("currency", "USD");
    history.replaceState(null, "", "?" + query.toString());
    updateRangeNote();
    refresh();
  }

  form.classList.add("js-enabled");
  form.addEventListener("change", onFilterChange);
  form.addEventListener("submit", onFilterChange);

  refresh(true);
  window.setInterval(function () {
    if (!document.hidden) refresh();
  }, config.refreshSeconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - lastRefresh > config.refreshSeconds * 1000) refresh();
  });
})();
