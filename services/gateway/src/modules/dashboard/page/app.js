// The live dashboard: a snapshot from GET /api/v1/dashboard/realtime (AQI, status, latest values),
// kept current by the readings channel of the WebSocket /api/v1/stream, resumed from the last cursor
// after a reconnect; while the socket is down the snapshot is polled instead. Plain browser JS with
// no build step; uPlot (served from node_modules) draws the selected sensor's chart. Data is only
// ever written with textContent, never as HTML.
(() => {
  const params = new URLSearchParams(location.search);
  const POLL_MS = Math.max(500, Number(params.get('poll')) || 10_000); // while the socket is down
  const REFRESH_MS = 30_000; // while live: AQI and status come from the snapshot
  const CHART_WINDOW_MS = 30 * 60_000; // history replayed into a newly selected chart
  const CHART_MAX_POINTS = 2_000;
  const USE_SOCKET = params.get('transport') !== 'poll';
  const FORECAST_HOURS = [1, 3, 6, 12, 24, 48, 72];
  // A forecast announced on the socket is read back once the writer has stored it.
  const FORECAST_RETRY_MS = 1_000;
  const FORECAST_RETRIES = 10;
  const FORECAST_LOOKBACK_MS = 2 * 3_600_000;
  const TABLE_METRICS = ['pm25', 'pm10', 'o3', 'no2', 'so2', 'co', 'temp', 'rh'];
  const LABELS = {
    pm25: 'PM2.5',
    pm10: 'PM10',
    o3: 'O₃',
    no2: 'NO₂',
    so2: 'SO₂',
    co: 'CO',
    temp: 'Temperature',
    rh: 'Humidity',
  };

  const state = {
    standard: params.get('standard') || '',
    thresholds: { staleAfterS: 900, offlineAfterS: 3600 },
    sensors: new Map(), // id → sensor view (values keyed by metric, ts as epoch ms)
    selected: params.get('sensor') || null,
    metric: 'pm25',
    socket: null,
    socketOpen: false,
    cursors: { table: null, chart: null },
    chartSubscribed: false,
    forecastSubscribed: false,
    forecast: null, // the selected sensor's newest forecast (GET /predictions/current), or null
    forecastFor: null, // which sensor `forecast` is of
    forecastWanted: 0, // the newest origin the socket announced for the selected sensor
    forecastReading: false, // a read-back loop is running
    dirty: new Set(), // sensors whose rows wait for the next animation frame
    retryMs: 1_000,
    pollTimer: null,
    chart: null,
    chartData: [[], []],
    snapshotAt: 0,
  };

  const $ = (selector) => document.querySelector(selector);
  const el = (tag, props = {}, children = []) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  };

  // --- formatting -------------------------------------------------------------------------------

  const format = (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
    const abs = Math.abs(value);
    return value.toLocaleString(undefined, { maximumFractionDigits: abs >= 100 ? 0 : abs >= 10 ? 1 : 2 });
  };
  const ago = (ms) => {
    if (ms == null) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86_400)} d ago`;
  };
  const statusOf = (lastSeenMs) => {
    if (lastSeenMs == null) return 'offline';
    const age = Math.max(0, Date.now() - lastSeenMs);
    if (age <= state.thresholds.staleAfterS * 1000) return 'online';
    if (age <= state.thresholds.offlineAfterS * 1000) return 'stale';
    return 'offline';
  };
  // Dark categories (red, purple, maroon) need white text to stay readable.
  const clock = (ms) =>
    new Date(ms).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const isDark = (hex) => {
    const n = Number.parseInt(hex.slice(1), 16);
    const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    return 0.299 * r + 0.587 * g + 0.114 * b < 125;
  };

  // --- state from the API and the stream ---------------------------------------------------------

  const fromApi = (sensor) => ({
    ...sensor,
    lastSeenMs: sensor.lastSeen ? Date.parse(sensor.lastSeen) : null,
    values: Object.fromEntries(
      Object.entries(sensor.values).map(([metric, v]) => [
        metric,
        { value: v.value, unit: v.unit, ts: Date.parse(v.ts) },
      ]),
    ),
  });

  /** Merges a snapshot: AQI and registry fields from it, values only where newer than what the socket brought. */
  function applySnapshot(snapshot) {
    state.thresholds = snapshot.thresholds;
    state.standard = snapshot.standard;
    state.snapshotAt = Date.parse(snapshot.generatedAt);
    const next = new Map();
    for (const raw of snapshot.sensors) {
      const sensor = fromApi(raw);
      const known = state.sensors.get(sensor.id);
      if (known) {
        for (const [metric, value] of Object.entries(known.values)) {
          if (!sensor.values[metric] || sensor.values[metric].ts < value.ts) sensor.values[metric] = value;
        }
        if (known.lastSeenMs != null && (sensor.lastSeenMs == null || known.lastSeenMs > sensor.lastSeenMs)) {
          sensor.lastSeenMs = known.lastSeenMs;
        }
      }
      next.set(sensor.id, sensor);
      if (state.selected === sensor.id && !state.socketOpen) chartFromValue(sensor);
    }
    state.sensors = next;
    $('#standard').value = state.standard;
    $('#updated').textContent = new Date(state.snapshotAt).toLocaleTimeString();
    $('#updated').dateTime = snapshot.generatedAt;
    renderTable();
    renderDetail();
  }

  /** A reading from the stream: `{sensorId, ts, metrics}` with ts in epoch ms. */
  function applyReading(reading) {
    const sensor = state.sensors.get(reading.sensorId);
    if (!sensor) return; // not an active sensor of the snapshot (yet): the next snapshot brings it
    for (const [metric, value] of Object.entries(reading.metrics)) {
      const known = sensor.values[metric];
      if (!known || known.ts <= reading.ts) {
        sensor.values[metric] = { value, unit: known?.unit ?? null, ts: reading.ts };
      }
    }
    if (sensor.lastSeenMs == null || reading.ts > sensor.lastSeenMs) sensor.lastSeenMs = reading.ts;
    // A busy stream can bring many readings per frame: rows are redrawn once per animation frame.
    if (state.dirty.size === 0) requestAnimationFrame(flushDirty);
    state.dirty.add(sensor.id);
  }

  function flushDirty() {
    for (const id of state.dirty) {
      const sensor = state.sensors.get(id);
      if (!sensor) continue;
      renderRow(sensor);
      if (state.selected === id) renderDetailValues(sensor);
    }
    state.dirty.clear();
  }

  async function fetchSnapshot() {
    const query = state.standard ? `?standard=${encodeURIComponent(state.standard)}` : '';
    try {
      const response = await fetch(`/api/v1/dashboard/realtime${query}`, {
        headers: { accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      applySnapshot(await response.json());
      showProblem(null);
      if (!state.socketOpen) fetchForecast(); // no socket to announce new forecasts: read on each poll
    } catch (error) {
      showProblem(`Could not load the sensors: ${error.message}. Retrying.`);
    }
  }

  function schedulePolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = setInterval(fetchSnapshot, state.socketOpen ? REFRESH_MS : POLL_MS);
  }

  // --- the WebSocket -----------------------------------------------------------------------------

  function setConnection(kind, text) {
    const node = $('#connection');
    node.dataset.state = kind;
    node.textContent = text;
  }

  const send = (message) => {
    if (state.socket && state.socket.readyState === WebSocket.OPEN)
      state.socket.send(JSON.stringify(message));
  };

  function subscribeTable() {
    const message = { type: 'subscribe', id: 'table', channel: 'readings' };
    if (state.cursors.table) message.since = state.cursors.table;
    send(message);
  }

  function subscribeChart() {
    if (state.chartSubscribed) send({ type: 'unsubscribe', id: 'chart' });
    state.chartSubscribed = false;
    if (!state.selected || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    state.chartSubscribed = true;
    // Resume where the chart left off; a new chart replays the last CHART_WINDOW_MS from the stream.
    const since = state.cursors.chart ?? `${Date.now() - CHART_WINDOW_MS}-0`;
    send({
      type: 'subscribe',
      id: 'chart',
      channel: 'readings',
      filter: { sensorIds: [state.selected], metrics: [state.metric] },
      since,
    });
  }

  function subscribeForecast() {
    if (state.forecastSubscribed) send({ type: 'unsubscribe', id: 'forecast' });
    state.forecastSubscribed = false;
    if (!state.selected || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    state.forecastSubscribed = true;
    // The forecast itself comes from the API; the socket says when a newer one is out. Starting two
    // hours back, so one published just before the page subscribed (and maybe not stored when the
    // page first asked) is announced too.
    send({
      type: 'subscribe',
      id: 'forecast',
      channel: 'predictions',
      filter: { sensorIds: [state.selected] },
      since: `${Date.now() - FORECAST_LOOKBACK_MS}-0`,
    });
  }

  function connect() {
    if (!USE_SOCKET || !('WebSocket' in window)) {
      setConnection('polling', 'polling');
      return;
    }
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`;
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener('open', () => {
      state.chartSubscribed = false;
      state.forecastSubscribed = false;
      subscribeTable();
      subscribeChart();
      subscribeForecast();
    });
    socket.addEventListener('message', (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener('close', () => {
      if (state.socket !== socket) return;
      state.socket = null;
      const wasOpen = state.socketOpen;
      state.socketOpen = false;
      if ($('#connection').dataset.state !== 'polling') setConnection('polling', 'reconnecting… (polling)');
      schedulePolling();
      if (wasOpen) fetchSnapshot();
      // Back off up to 30 s; the cursors make the next subscription replay what was missed.
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 30_000);
    });
  }

  function onFrame(frame) {
    switch (frame.type) {
      case 'subscribed':
        if (frame.id === 'table') {
          state.cursors.table ??= frame.cursor;
          if (!state.socketOpen) {
            state.socketOpen = true;
            state.retryMs = 1_000;
            setConnection('live', 'live');
            schedulePolling();
          }
        } else if (frame.id === 'chart') {
          state.cursors.chart ??= frame.cursor;
        }
        break;
      case 'event':
        if (frame.channel === 'predictions' && frame.id === 'forecast') {
          forecastAnnounced(frame.data);
          break;
        }
        if (frame.channel !== 'readings') break;
        if (frame.id === 'table') {
          state.cursors.table = frame.cursor;
          applyReading(frame.data);
        } else if (frame.id === 'chart') {
          state.cursors.chart = frame.cursor;
          chartPush(frame.data);
        }
        break;
      case 'replayed':
        // The replay is complete up to here (PROTOCOL.md): a later resume starts after it.
        if (frame.id === 'table' || frame.id === 'chart') state.cursors[frame.id] = frame.cursor;
        break;
      case 'error':
        // A cursor the server can no longer replay: start afresh from a new snapshot.
        if (frame.id === 'table' && state.cursors.table) {
          state.cursors.table = null;
          fetchSnapshot().then(subscribeTable);
        } else if (frame.id === 'chart' && state.cursors.chart) {
          state.cursors.chart = null;
          resetChart();
          subscribeChart();
        } else if (frame.id === 'table') {
          // The server cannot stream now (e.g. UNAVAILABLE): poll, and try the socket again later.
          setConnection('polling', 'polling (live updates unavailable)');
          state.socket?.close();
        }
        break;
      default:
        break;
    }
  }

  // --- rendering ---------------------------------------------------------------------------------

  function showProblem(text) {
    const node = $('#problem');
    node.hidden = !text;
    node.textContent = text ?? '';
  }

  function aqiBadge(aqi) {
    if (!aqi) return el('span', { className: 'aqi', text: '–', title: 'not enough data for an index' });
    const badge = el('span', {
      className: `aqi${isDark(aqi.category.colour) ? ' dark' : ''}`,
      text: `${aqi.basis === 'latest' ? '≈' : ''}${aqi.value}`,
      title: `${aqi.category.name}${aqi.basis === 'latest' ? ' (indicative, from latest values)' : ''}`,
      dataset: { category: aqi.category.key, basis: aqi.basis },
    });
    badge.style.backgroundColor = aqi.category.colour;
    return badge;
  }

  function rowFor(sensor) {
    const status = statusOf(sensor.lastSeenMs);
    const cells = [
      el('td', {}, [
        el('span', { className: 'sensor-name', text: sensor.name }),
        el('span', { className: 'sensor-site', text: sensor.site || sensor.id }),
      ]),
      el('td', {}, [el('span', { className: 'status', text: status, dataset: { status } })]),
      el('td', { dataset: { field: 'last-seen' }, text: ago(sensor.lastSeenMs) }),
      el('td', { dataset: { field: 'aqi' } }, [
        aqiBadge(sensor.aqi),
        el('span', { className: 'aqi-name', text: sensor.aqi?.category.name ?? '' }),
      ]),
      el('td', {
        dataset: { field: 'dominant' },
        text: sensor.aqi ? (LABELS[sensor.aqi.dominant] ?? sensor.aqi.dominant) : '–',
      }),
      ...TABLE_METRICS.map((metric) =>
        el('td', { className: 'num', dataset: { metric }, text: format(sensor.values[metric]?.value) }),
      ),
    ];
    const row = el('tr', { dataset: { sensorId: sensor.id, status }, tabindex: '0' }, cells);
    row.setAttribute('aria-selected', String(state.selected === sensor.id));
    return row;
  }

  function renderRow(sensor) {
    const old = document.querySelector(`tr[data-sensor-id="${CSS.escape(sensor.id)}"]`);
    const row = rowFor(sensor);
    if (old) old.replaceWith(row);
    else renderTable();
    renderCounts();
  }

  function renderTable() {
    const sorted = [...state.sensors.values()].sort(
      (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
    );
    $('#sensors tbody').replaceChildren(...sorted.map(rowFor));
    $('#empty').hidden = sorted.length > 0;
    renderCounts();
  }

  function renderCounts() {
    const counts = { online: 0, stale: 0, offline: 0 };
    for (const sensor of state.sensors.values()) counts[statusOf(sensor.lastSeenMs)]++;
    for (const [status, count] of Object.entries(counts)) {
      document.querySelector(`[data-count="${status}"]`).textContent = String(count);
    }
  }

  // Ages and statuses move with the clock, not only with data.
  function tick() {
    for (const row of document.querySelectorAll('#sensors tbody tr')) {
      const sensor = state.sensors.get(row.dataset.sensorId);
      if (!sensor) continue;
      const status = statusOf(sensor.lastSeenMs);
      row.querySelector('[data-field="last-seen"]').textContent = ago(sensor.lastSeenMs);
      if (row.dataset.status !== status) renderRow(sensor);
    }
  }

  function renderLegend(standards) {
    const standard = standards.find((s) => s.id === state.standard) ?? standards[0];
    if (!standard) return;
    $('#legend').replaceChildren(
      el('strong', { text: `${standard.name}: ` }),
      ...standard.categories.map((category) => {
        const range = category.max == null ? `${category.min}+` : `${category.min}–${category.max}`;
        const item = el('span', {
          text: `${category.name} ${range}`,
          className: isDark(category.colour) ? 'aqi dark' : 'aqi',
        });
        item.style.backgroundColor = category.colour;
        return item;
      }),
    );
  }

  // --- detail and chart ------------------------------------------------------------------------------

  function select(id) {
    if (state.selected === id) return;
    state.selected = id;
    state.cursors.chart = null;
    const url = new URL(location.href);
    url.searchParams.set('sensor', id);
    history.replaceState(null, '', url);
    for (const row of document.querySelectorAll('#sensors tbody tr')) {
      row.setAttribute('aria-selected', String(row.dataset.sensorId === id));
    }
    resetChart();
    renderDetail();
    subscribeChart();
    state.forecast = null;
    state.forecastFor = null;
    state.forecastWanted = 0;
    state.forecastReading = false; // a loop for the previous sensor ends at its next check
    renderForecast();
    fetchForecast();
    subscribeForecast();
  }

  // --- forecast ----------------------------------------------------------------------------------

  /** Reads the selected sensor's newest forecast; resolves to its origin (epoch ms) or null. */
  async function fetchForecast() {
    const id = state.selected;
    if (!id) return null;
    try {
      const response = await fetch(`/api/v1/predictions/current?sensor=${encodeURIComponent(id)}&hours=72`, {
        headers: { accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const body = await response.json();
      if (state.selected !== id) return null; // another sensor was picked meanwhile
      state.forecast = body.sensors.find((s) => s.sensorId === id) ?? null;
      state.forecastFor = id;
      renderForecast();
      return state.forecast ? Date.parse(state.forecast.origin) : null;
    } catch (error) {
      $('#forecast-note').textContent = `could not load the forecast: ${error.message}`;
      return null;
    }
  }

  /**
   * A forecast event for the selected sensor: read the newest announced one back once stored (it
   * may take the writer a moment). Events in a row (both targets, a replay) share one loop.
   */
  async function forecastAnnounced(prediction) {
    if (prediction.sensorId !== state.selected || prediction.role === 'shadow') return;
    const shown =
      state.forecastFor === state.selected && state.forecast ? Date.parse(state.forecast.origin) : -1;
    if (prediction.ts <= Math.max(shown, state.forecastWanted)) return;
    state.forecastWanted = prediction.ts;
    if (state.forecastReading) return;
    state.forecastReading = true;
    const sensor = state.selected;
    try {
      for (let attempt = 0; attempt < FORECAST_RETRIES && state.selected === sensor; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, FORECAST_RETRY_MS));
        const origin = await fetchForecast();
        if ((origin ?? -1) >= state.forecastWanted) break;
      }
    } finally {
      state.forecastReading = false;
    }
  }

  function renderForecast() {
    const forecast = state.forecastFor === state.selected ? state.forecast : null;
    const note = $('#forecast-note');
    if (!forecast) {
      note.textContent =
        state.forecastFor === state.selected && state.selected
          ? 'none yet: a sensor needs 72 hours of PM and weather history'
          : '';
      $('#forecast').replaceChildren();
      return;
    }
    note.textContent = `from ${clock(Date.parse(forecast.origin))} · model ${forecast.modelVersion} · median and 80% range, µg/m³`;
    const range = (q) => (q ? `${format(q.p10)}–${format(q.p90)}` : '–');
    const rows = FORECAST_HOURS.map((h) => forecast.horizons.find((step) => step.hours === h))
      .filter(Boolean)
      .map((step) =>
        el('tr', { dataset: { hours: String(step.hours) } }, [
          el('th', { text: `+${step.hours} h` }),
          el('td', { text: clock(Date.parse(step.at)) }),
          el('td', { className: 'num', dataset: { field: 'pm25' }, text: format(step.pm25?.p50) }),
          el('td', { className: 'num', dataset: { field: 'pm25-range' }, text: range(step.pm25) }),
          el('td', { className: 'num', dataset: { field: 'pm10' }, text: format(step.pm10?.p50) }),
          el('td', { dataset: { field: 'aqi' } }, [aqiBadge(step.aqi && { ...step.aqi, basis: 'forecast' })]),
        ]),
      );
    $('#forecast').replaceChildren(
      el('tr', {}, [
        el('th', { text: 'In' }),
        el('th', { text: 'At' }),
        el('th', { text: 'PM2.5' }),
        el('th', { text: 'PM2.5 80%' }),
        el('th', { text: 'PM10' }),
        el('th', { text: 'AQI' }),
      ]),
      ...rows,
    );
  }

  function renderDetail() {
    const sensor = state.selected ? state.sensors.get(state.selected) : undefined;
    $('#detail').hidden = !sensor;
    if (!sensor) return;
    $('#detail-title').textContent = `${sensor.name} · ${sensor.site || sensor.id}`;
    const metrics = Object.keys(sensor.values).sort();
    if (!metrics.includes(state.metric) && metrics.length > 0) {
      state.metric = metrics.includes('pm25') ? 'pm25' : metrics[0];
    }
    const picker = $('#detail-metric');
    const current = [...picker.options].map((o) => o.value).join();
    if (current !== metrics.join()) {
      picker.replaceChildren(...metrics.map((m) => el('option', { value: m, text: LABELS[m] ?? m })));
    }
    picker.value = state.metric;
    renderDetailValues(sensor);
    renderDetailAqi(sensor);
    if (!state.chart) resetChart();
  }

  function renderDetailValues(sensor) {
    const rows = Object.entries(sensor.values)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([metric, v]) =>
        el('tr', { dataset: { metric } }, [
          el('th', { text: LABELS[metric] ?? metric }),
          el('td', { className: 'num', text: format(v.value) }),
          el('td', { text: v.unit ?? '' }),
          el('td', { text: ago(v.ts) }),
        ]),
      );
    $('#detail-values').replaceChildren(...rows);
  }

  function renderDetailAqi(sensor) {
    const aqi = sensor.aqi;
    if (!aqi) {
      $('#detail-aqi').replaceChildren(el('tr', {}, [el('td', { text: 'No index: too little data.' })]));
      return;
    }
    $('#detail-aqi').replaceChildren(
      el('tr', {}, [
        el('th', { text: 'Pollutant' }),
        el('th', { text: 'Averaging' }),
        el('th', { text: 'Concentration' }),
        el('th', { text: 'Index' }),
      ]),
      ...aqi.pollutants.map((p) =>
        el('tr', {}, [
          el('td', { text: LABELS[p.pollutant] ?? p.pollutant }),
          el('td', { text: p.averaging }),
          el('td', { className: 'num', text: `${format(p.concentration)} ${p.unit}` }),
          el('td', {}, [aqiBadge({ ...aqi, value: p.index, category: p.category, basis: p.basis })]),
        ]),
      ),
    );
  }

  function resetChart() {
    state.chartData = [[], []];
    const host = $('#chart');
    if (state.chart) {
      state.chart.destroy();
      state.chart = null;
    }
    if (!state.selected || typeof uPlot === 'undefined') return;
    const sensor = state.sensors.get(state.selected);
    const unit = sensor?.values[state.metric]?.unit ?? '';
    state.chart = new uPlot(
      {
        width: Math.max(300, host.clientWidth || 600),
        height: 240,
        series: [
          {},
          {
            label: `${LABELS[state.metric] ?? state.metric}${unit ? ` (${unit})` : ''}`,
            stroke: '#2f6fdd',
            width: 2,
          },
        ],
        axes: [{}, { size: 60 }],
        scales: { x: { time: true } },
      },
      state.chartData,
      host,
    );
    if (sensor && !state.socketOpen) chartFromValue(sensor);
  }

  function chartPush(reading) {
    const value = reading.metrics[state.metric];
    if (reading.sensorId !== state.selected || typeof value !== 'number') return;
    const [xs, ys] = state.chartData;
    const x = reading.ts / 1000;
    // Replayed and live events come in stream order, which is nearly time order: insert in place.
    let index = xs.length;
    while (index > 0 && xs[index - 1] > x) index--;
    if (xs[index - 1] === x) return;
    xs.splice(index, 0, x);
    ys.splice(index, 0, value);
    if (xs.length > CHART_MAX_POINTS) {
      xs.shift();
      ys.shift();
    }
    state.chart?.setData(state.chartData);
  }

  // Without the socket, the chart grows from each snapshot's latest value.
  function chartFromValue(sensor) {
    const latest = sensor.values[state.metric];
    if (latest) chartPush({ sensorId: sensor.id, ts: latest.ts, metrics: { [state.metric]: latest.value } });
  }

  // --- start -------------------------------------------------------------------------------------

  async function start() {
    $('#sensors tbody').addEventListener('click', (event) => {
      const row = event.target.closest('tr[data-sensor-id]');
      if (row) select(row.dataset.sensorId);
    });
    $('#sensors tbody').addEventListener('keydown', (event) => {
      const row = event.target.closest('tr[data-sensor-id]');
      if (row && (event.key === 'Enter' || event.key === ' ')) select(row.dataset.sensorId);
    });
    $('#detail-metric').addEventListener('change', (event) => {
      state.metric = event.target.value;
      state.cursors.chart = null;
      resetChart();
      subscribeChart();
    });
    window.addEventListener('resize', () =>
      state.chart?.setSize({ width: $('#chart').clientWidth, height: 240 }),
    );

    const standards = await fetch('/dashboard/standards.json')
      .then((r) => r.json())
      .catch(() => []);
    $('#standard').replaceChildren(...standards.map((s) => el('option', { value: s.id, text: s.name })));
    $('#standard').addEventListener('change', (event) => {
      state.standard = event.target.value;
      const url = new URL(location.href);
      url.searchParams.set('standard', state.standard);
      history.replaceState(null, '', url);
      renderLegend(standards);
      fetchSnapshot();
    });

    await fetchSnapshot();
    renderLegend(standards);
    setConnection(USE_SOCKET ? 'connecting' : 'polling', USE_SOCKET ? 'connecting…' : 'polling');
    schedulePolling();
    connect();
    setInterval(tick, 1_000);
    setInterval(() => send({ type: 'ping' }), 20_000);
  }

  start();
})();
