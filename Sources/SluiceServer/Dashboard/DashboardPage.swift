import Hummingbird
import SluiceModel
import SluiceStore

/// `GET /` and `/dashboard` (all widgets), `/widgets/<name>` (one, for embedding),
/// `?fragment=1` (a widget's inner HTML, which the page's script fetches to redraw itself when
/// the live stream says something changed), and `?format=csv` (the widget's data). Rendered on
/// the server: the numbers are in the HTML.
///
/// The view lives in the URL, so a link restores it: `tenant`, `route`, `series`, `from` and
/// `to` (see `DashboardRange`) and `refresh` (`live`, the default, follows the live stream; an
/// interval such as `30s` polls; `off` stops).
struct DashboardRoutes: Sendable {
    let state: ServerState
    var sink: DashboardSink { state.dashboard }

    func register(_ router: Router<SluiceRequestContext>) {
        router.get("/") { request, context in try await page(request, context, widgets: DashboardWidget.allCases) }
        router.get("dashboard") { request, context in try await page(request, context, widgets: DashboardWidget.allCases) }
        router.get("widgets/:name") { request, context in
            let name = try context.parameters.require("name")
            guard let widget = DashboardWidget(rawValue: name) else {
                throw APIError.notFound("no widget \(name); widgets: \(DashboardWidget.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            switch request.uri.queryParameters.get("format") {
            case nil, "html": break
            case "csv":
                let data = try await gather(request, context, widgets: [widget])
                return Self.csv(widget.table(data).csv, name: "sluice-\(widget.rawValue).csv")
            case let other?: throw APIError.badRequest("format=\(other): expected html or csv")
            }
            if request.uri.queryParameters.get("fragment") == "1" {
                let data = try await gather(request, context, widgets: [widget])
                return Self.html(widget.render(data))
            }
            return try await page(request, context, widgets: [widget])
        }
    }

    func gather(_ request: Request, _ context: SluiceRequestContext, widgets: [DashboardWidget]) async throws -> DashboardData {
        let viewer: String? = if case .tenant(let own) = context.identity { own } else { nil }
        let parameters = request.uri.queryParameters
        let asked = parameters.get("tenant").flatMap { $0.isEmpty ? nil : $0 }
        if let viewer, let asked, asked != viewer { throw APIError.forbidden("this token sees tenant \(viewer) only") }
        var snapshot = sink.snapshot(tenant: viewer)
        if state.cluster != nil, let base = state.windowLengths.first {
            // In a cluster the windows live with each partition's owner: the newest closed ones
            // (what this node's sink would hold) are read from them, for the selectors and "now".
            let from = Timestamp(microseconds: Timestamp.now().microseconds - base.microseconds * Int64(sink.windowsPerSeries))
            for w in try await WindowQuery(state: state).windows(.init(tenant: viewer, length: base, from: from)) where !w.partial {
                snapshot.windows[w.series, default: []].append(w)
            }
        }
        let range = DashboardRange.resolve(from: parameters.get("from"), to: parameters.get("to"),
                                           now: snapshot.newestEnd ?? Timestamp.now().microseconds)
        var data = DashboardData(
            snapshot: snapshot, tokens: [], budgets: state.tokenMeter.configuration.budgets,
            retention: RetentionRoutes.policy(state.retentionPolicy, seenBy: context.identity), stats: nil, dryRun: nil, viewer: viewer, tenant: asked,
            route: parameters.get("route").flatMap { $0.isEmpty ? nil : $0 }, series: parameters.get("series").flatMap { $0.isEmpty ? nil : $0 },
            range: range, query: request.uri.query ?? "")
        if widgets.contains(where: { $0 != .tokenUsageMonitor && $0 != .retentionPolicyManager }) {
            try await history(&data)
        }
        if widgets.contains(.tokenUsageMonitor) {
            data.tokens = try await state.tokenUsage(tenantID: viewer)
            data.forecasts = await state.tokenMeter.forecasts(tenantID: viewer)
        }
        if widgets.contains(.retentionPolicyManager), let directory = state.directory {
            // Both read every segment's block summaries: on the blocking pool.
            let (pruner, now) = (state.pruner, Timestamp.now())
            (data.stats, data.dryRun) = await BlockingWork.run { () -> (StoreStats?, RetentionPruner.Report?) in
                (try? StoreStats(directory: directory), try? pruner?.prune(now: now, dryRun: true))
            }
        }
        return data
    }

    /// Most points a chart line draws: a longer range is rolled up into steps.
    static let maximumPoints = 240

    /// When the range reaches back past what the dashboard sink holds (it keeps the newest
    /// windows of each series; the rest went to the store, or went before a restart), or holds
    /// more windows than a chart draws, the windows of the selected tenant and the sites' visits
    /// come from the store instead, as the query API reads them: the base windows, or roll-ups
    /// to a step of whole windows (1, 2, 5, 10, 15, 30 or 60 of them, then whole hours and days).
    func history(_ data: inout DashboardData) async throws {
        guard let base = state.windowLengths.first else { return }
        let tenant = DashboardWidget.selectedTenant(data)
        let held = data.snapshot.windows.filter { $0.key.tenantID == tenant }.values.compactMap { $0.first?.span.start.microseconds }
        let sinkFull = data.snapshot.windows.values.contains { $0.count >= sink.windowsPerSeries }
        let span = data.range.to - data.range.from
        let reachesBack = held.isEmpty || data.range.from < held.max()!
        guard ((state.store != nil || state.cluster != nil) && reachesBack) || (sinkFull && reachesBack) || span / base.microseconds > Int64(Self.maximumPoints) else { return }
        let multiples: [Int64] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1_440, 2_880, 10_080]
        let step = WindowDuration(microseconds: base.microseconds * (multiples.first { span / (base.microseconds * $0) <= Int64(Self.maximumPoints) } ?? 10_080))
        // Whole steps that end inside the range.
        let from = Timestamp(microseconds: data.range.from - step.microseconds)
        let to = Timestamp(microseconds: data.range.to)
        let query = WindowQuery(state: state)
        var windows: [WindowSummary]
        var visits: [VisitsWindowSummary]
        if step == base {
            let filter = WindowQuery.Filter(tenant: tenant, length: base, from: from, to: to)
            windows = try await query.windows(filter)
            visits = try await query.visits(WindowQuery.Filter(tenant: data.viewer, length: base, from: from, to: to))
        } else {
            windows = try await query.windows(WindowQuery.Filter(tenant: tenant, from: from, to: to), step: step)
            visits = try await query.visits(WindowQuery.Filter(tenant: data.viewer, from: from, to: to), step: step)
        }
        windows.removeAll { $0.partial || $0.series.tenantID != tenant }
        // Visits windows carry no open mark: those past the newest closed window are open.
        let closed = data.snapshot.newestEnd ?? Int64.max
        visits.removeAll { $0.span.end.microseconds > closed }
        var byKey: [SeriesKey: [WindowSummary]] = [:]
        for w in windows { byKey[w.series, default: []].append(w) }
        var routes: [SeriesKey: [WindowSpan: [WindowSummary]]] = [:]
        for w in windows where w.series.labels["route"] != nil && DashboardWidget.performanceNames.contains(w.series.name) {
            routes[w.series.withoutRoute, default: [:]][w.span, default: []].append(w)
        }
        data.snapshot.windows = data.snapshot.windows.filter { $0.key.tenantID != tenant }.merging(byKey.mapValues { $0.sorted { $0.span < $1.span } }) { $1 }
        data.snapshot.allRoutes = routes.mapValues { spans in
            spans.keys.sorted().map { span in WindowSummary.merging(spans[span]!, span: span, series: spans[span]![0].series.withoutRoute) }
        }
        data.snapshot.visits = Dictionary(grouping: visits.sorted { $0.span < $1.span }) { $0.tenantID ?? "" }
        // The range's anomalies too, so the charts mark them; Anomaly is Hashable, and one
        // both stored and held counts once.
        var anomalies = Set(data.snapshot.anomalies)
        for case .output(.anomaly(let a)) in try await state.storedRecords(StoreQuery(kinds: [.anomaly], tenantID: data.viewer, from: from, to: to)) {
            anomalies.insert(a)
        }
        data.snapshot.anomalies = anomalies.sorted { ($0.timestamp, $0.series) < ($1.timestamp, $1.series) }
    }

    func page(_ request: Request, _ context: SluiceRequestContext, widgets: [DashboardWidget]) async throws -> Response {
        let data = try await gather(request, context, widgets: widgets)
        let query = Self.query(request, dropping: ["fragment", "format"])
        var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        html += "<meta name=\"color-scheme\" content=\"light dark\">"
        html += "<title>Sluice\(widgets.count == 1 ? " · " + widgets[0].title : "")</title><style>\(Self.css)</style></head><body>"
        html += "<header><h1>Sluice</h1><span class=\"muted\">\(data.viewer.map { "tenant " + escape($0) } ?? "all tenants") · rendered \(escape(RFC3339.format(Timestamp.now()).prefix(19).replacingOccurrences(of: "T", with: " "))) UTC</span>"
        html += "<span id=\"live\" class=\"pill\">connecting…</span></header>"
        html += toolbar(data)
        for problem in data.range.problems { html += "<p class=\"notice\" role=\"alert\">\(escape(problem))</p>" }
        html += "<main class=\"\(widgets.count == 1 ? "single" : "grid")\">"
        for widget in widgets {
            let csv = "/widgets/\(widget.rawValue)?" + (query.isEmpty ? "" : query + "&") + "format=csv"
            html += "<section class=\"widget\" id=\"\(widget.rawValue)\"><div class=\"head\"><h2>\(widget.title)</h2><span class=\"muted\">\(widget.subtitle)</span>"
            html += "<a class=\"csv\" href=\"\(escape(csv))\" download=\"sluice-\(widget.rawValue).csv\" data-csv=\"\(widget.rawValue)\">CSV</a></div>"
            html += "<div data-widget=\"\(widget.rawValue)\">\(widget.render(data))</div></section>"
        }
        html += "</main><script>\(Self.script)</script></body></html>"
        return Self.html(html)
    }

    /// The view's controls: tenant, time range (quick and absolute), zoom out, refresh.
    func toolbar(_ d: DashboardData) -> String {
        var html = "<nav class=\"toolbar\" aria-label=\"view\">"
        if d.viewer == nil {
            let tenants = DashboardWidget.tenants(d)
            let selected = DashboardWidget.selectedTenant(d)
            html += "<label>Tenant <select data-param=\"tenant\" onchange=\"sluice.select('tenant', this.value)\">"
            for t in tenants { html += "<option\(t == selected ? " selected" : "")>\(escape(t))</option>" }
            if tenants.isEmpty { html += "<option value=\"\">no tenants yet</option>" }
            html += "</select></label>"
        } else {
            html += "<span class=\"pill\">\(escape(d.viewer ?? "-"))</span>"
        }
        let quick = DashboardRange.quick.first { $0.text == d.range.fromText && d.range.toText == "now" }
        html += "<label>Range <select data-param=\"range\" onchange=\"sluice.quick(this.value)\">"
        for q in DashboardRange.quick { html += "<option value=\"\(q.text)\"\(q.text == quick?.text ? " selected" : "")>\(q.label)</option>" }
        if quick == nil { html += "<option value=\"\" selected>\(escape(d.range.fromText)) to \(escape(d.range.toText))</option>" }
        html += "</select></label>"
        html += "<form class=\"absolute\" onsubmit=\"return sluice.absolute(this)\"><input name=\"from\" value=\"\(escape(DashboardWidget.time(d.range.from)))\" aria-label=\"from\" size=\"20\">"
        html += "<span>to</span><input name=\"to\" value=\"\(escape(DashboardWidget.time(d.range.to)))\" aria-label=\"to\" size=\"20\"><button type=\"submit\">Apply</button></form>"
        html += "<button type=\"button\" id=\"zoom-out\" onclick=\"sluice.zoomOut()\" title=\"twice the range, same middle\">Zoom out</button>"
        html += "<label>Refresh <select data-param=\"refresh\" onchange=\"sluice.select('refresh', this.value)\">"
        for (value, label) in [("live", "live"), ("5s", "every 5s"), ("30s", "every 30s"), ("1m", "every 1m"), ("off", "off")] {
            html += "<option value=\"\(value)\"\(value == (Self.refresh(d.query)) ? " selected" : "")>\(label)</option>"
        }
        return html + "</select></label></nav>"
    }

    static func refresh(_ query: String) -> String {
        for pair in query.split(separator: "&") where pair.hasPrefix("refresh=") { return String(pair.dropFirst(8)) }
        return "live"
    }

    /// The request's query without some parameters, as it came (still percent-encoded).
    static func query(_ request: Request, dropping: Set<String>) -> String {
        (request.uri.query ?? "").split(separator: "&").filter { pair in
            !dropping.contains(String(pair.prefix { $0 != "=" }))
        }.joined(separator: "&")
    }

    static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func csv(_ text: String, name: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store", .contentDisposition: "attachment; filename=\"\(name)\""],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = """
        :root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--accent:#2563eb;--bad:#dc2626;--warn:#b45309;--head:#0f172a;--track:#e5e7eb;--pill:#e0e7ff;--pillfg:#1e3a8a}
        @media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--muted:#9ca3af;--line:#374151;--bg:#0b1120;--card:#111827;--accent:#60a5fa;--bad:#f87171;--warn:#fbbf24;--head:#020617;--track:#374151;--pill:#1e293b;--pillfg:#93c5fd}}
        *{box-sizing:border-box}html{-webkit-text-size-adjust:100%}body{margin:0;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline;padding:12px 16px;background:var(--head);color:#fff}header h1{margin:0;font-size:20px}
        header .muted{color:#cbd5e1}.toolbar{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center;padding:10px 16px;border-bottom:1px solid var(--line);background:var(--card)}
        .toolbar form{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0}.toolbar input{width:13.5em;max-width:100%}
        .notice{margin:10px 16px;padding:8px 12px;border:1px solid var(--warn);border-radius:6px;color:var(--warn)}
        main.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:16px;padding:16px}
        main.single{padding:16px;max-width:900px}.widget{min-width:0;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
        .widget .head{display:flex;flex-wrap:wrap;gap:2px 10px;align-items:baseline;margin-bottom:8px}.widget h2{margin:0;font-size:16px}.widget h3{font-size:14px;margin:12px 0 4px}
        a.csv{margin-left:auto;font-size:12px;color:var(--accent);border:1px solid var(--accent);border-radius:6px;padding:1px 8px;text-decoration:none}
        .chart{margin:8px 0}.chart figcaption{font-weight:600;font-size:13px;margin-bottom:2px}.chart svg{width:100%;height:auto;display:block;touch-action:none;user-select:none;cursor:crosshair}
        .chart .grid,line.grid{stroke:var(--line)}.axis{font-size:11px;fill:var(--muted)}rect.plot{fill:transparent}rect.zoom{fill:var(--accent);opacity:.15}
        g.anomaly line{stroke:var(--bad);stroke-dasharray:3 3}g.anomaly circle{fill:var(--bad)}g.line.off{display:none}
        table.legend{border-collapse:collapse;width:100%;font-size:12px;color:var(--muted);font-variant-numeric:tabular-nums;margin-top:2px}
        table.legend th{font-weight:500;text-align:right;padding:0 6px}table.legend td{text-align:right;padding:1px 6px;white-space:nowrap}table.legend td:first-child{text-align:left;cursor:pointer;color:var(--fg)}
        table.legend tr.off td{opacity:.4}table.legend i,.legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
        .scroll{overflow-x:auto}table.numbers{border-collapse:collapse;width:100%;margin:8px 0;font-variant-numeric:tabular-nums}table.numbers caption{text-align:left;color:var(--muted);font-size:12px}
        table.numbers th,table.numbers td{padding:4px 6px;border-bottom:1px solid var(--line);text-align:right}
        table.numbers th:first-child,table.numbers td:first-child{text-align:left}th.sort{cursor:pointer;color:var(--accent)}.muted{color:var(--muted)}
        .warn{color:var(--warn);font-weight:600}.pill{background:var(--pill);color:var(--pillfg);border-radius:999px;padding:2px 10px;font-size:12px}
        header .pill{background:#1e293b;color:#93c5fd}.controls{display:flex;flex-wrap:wrap;gap:8px 16px;margin-bottom:6px;align-items:center}.spark{width:100px;height:24px}
        .budget{margin:6px 0 12px}.bar{position:relative;height:10px;background:var(--track);border-radius:5px;margin-top:4px}.bar.small{height:6px;min-width:60px}
        .bar span{position:absolute;left:0;top:0;bottom:0;background:var(--accent);border-radius:5px}
        .bar span.near{background:var(--warn)}.bar span.over{background:var(--bad)}.bar i{position:absolute;top:-3px;bottom:-3px;width:2px;background:var(--fg)}
        .forecast{margin:4px 0;font-size:13px}ul.anomalies,ul.alerts{margin:6px 0;padding-left:18px}ul.anomalies li{margin:2px 0}.score{color:var(--bad);font-weight:600}
        input,select{font:inherit;padding:2px 4px;max-width:100%;color:inherit;background:var(--card);border:1px solid var(--line);border-radius:4px}
        button{font:inherit;padding:3px 10px;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;cursor:pointer}
        @media (max-width:600px){body{font-size:13px}main.grid,main.single{padding:8px;gap:10px}.widget{padding:10px}
        table.numbers th,table.numbers td{padding:3px 3px}.toolbar{padding:8px}.toolbar form{width:100%}.toolbar form input{flex:1 1 100%;width:auto}.spark{width:60px}table.legend{font-size:11px}table.legend th,table.legend td{padding:0 3px}}
        """

    /// The page's script: the view lives in the URL, so changing it navigates (the browser's
    /// back button undoes a zoom); widgets redraw from fragments when the live stream says a
    /// window closed, or on the `refresh` interval.
    static let script = """
        const sluice=(()=>{const q=new URLSearchParams(location.search);const token=q.get('token');
        const url=(p,extra)=>{const u=new URL(p,location.href);for(const[k,v]of q)if(k!=='fragment'&&k!=='format')u.searchParams.set(k,v);if(extra)for(const k in extra)u.searchParams.set(k,extra[k]);return u.toString()};
        const headers=()=>token?{'Authorization':'Bearer '+token}:{};let timer=null;const isolated={};
        function go(changes){for(const k in changes){if(changes[k]===null||changes[k]==='')q.delete(k);else q.set(k,changes[k])}location.assign('?'+q)}
        function reisolate(){for(const key in isolated){const fig=[...document.querySelectorAll('figure.chart')].find(f=>f.dataset.key===key);if(fig)show(fig,isolated[key])}}
        function show(fig,i){for(const g of fig.querySelectorAll('g.line'))g.classList.toggle('off',i!==null&&g.dataset.line!==i);
        for(const r of fig.querySelectorAll('table.legend tbody tr'))r.classList.toggle('off',i!==null&&r.dataset.line!==i)}
        function keys(){document.querySelectorAll('figure.chart').forEach(f=>{f.dataset.key=f.closest('[data-widget]').dataset.widget+'|'+f.querySelector('figcaption').textContent})}
        function zoomable(){for(const svg of document.querySelectorAll('figure.chart svg[data-x0]')){if(svg.dataset.z)continue;svg.dataset.z=1;let start=null,band=null;
        const at=e=>{const r=svg.getBoundingClientRect();const w=Number(svg.dataset.width);const x=(e.clientX-r.left)/r.width*w;const l=Number(svg.dataset.left),rt=Number(svg.dataset.right);return Math.min(Math.max(x,l),rt)};
        const time=x=>{const l=Number(svg.dataset.left),rt=Number(svg.dataset.right),x0=Number(svg.dataset.x0),x1=Number(svg.dataset.x1);return Math.round(x0+(x-l)/(rt-l)*(x1-x0))};
        svg.addEventListener('pointerdown',e=>{start=at(e);band=document.createElementNS('http://www.w3.org/2000/svg','rect');band.setAttribute('class','zoom');band.setAttribute('y','0');band.setAttribute('height',svg.viewBox.baseVal.height);band.setAttribute('x',start);band.setAttribute('width',0);svg.appendChild(band);svg.setPointerCapture(e.pointerId)});
        svg.addEventListener('pointermove',e=>{if(start===null)return;const x=at(e);band.setAttribute('x',Math.min(x,start));band.setAttribute('width',Math.abs(x-start))});
        svg.addEventListener('pointerup',e=>{if(start===null)return;const x=at(e);const a=Math.min(x,start),b=Math.max(x,start);start=null;band.remove();
        if(b-a>=4){const from=time(a),to=time(b);if(to>from)go({from:String(from),to:String(to)})}})}}
        async function refresh(){timer=null;for(const el of document.querySelectorAll('[data-widget]')){try{const r=await fetch(url('/widgets/'+el.dataset.widget,{fragment:'1'}),{headers:headers()});if(r.ok)el.innerHTML=await r.text()}catch(e){}}
        keys();reisolate();zoomable();document.getElementById('live').textContent='updated '+new Date().toISOString().slice(11,19)+' UTC'}
        function soon(){if(!timer)timer=setTimeout(refresh,200)}
        const every=(q.get('refresh')||'live');const live=document.getElementById('live');
        if(every==='live'&&window.EventSource){const es=new EventSource(url('/api/v2/analytics/stream'));
        es.onopen=()=>{live.textContent='live'};es.onerror=()=>{live.textContent='reconnecting…'};
        for(const t of['window','cache_window','visits_window','anomaly','budget_alert','budget_forecast','token_usage'])es.addEventListener(t,soon)}
        else{const m=/^(\\d+)(s|m)$/.exec(every);if(m){const ms=Number(m[1])*(m[2]==='m'?60000:1000);setInterval(refresh,ms);live.textContent='every '+every}else live.textContent='paused'}
        keys();zoomable();
        return{select(k,v){go(k==='tenant'?{tenant:v,route:null,series:null}:{[k]:v})},quick(v){if(v)go({from:v,to:'now'})},
        absolute(form){go({from:form.from.value.trim(),to:form.to.value.trim()});return false},
        zoomOut(){const svg=document.querySelector('svg[data-x0]');let x0,x1;if(svg){x0=Number(svg.dataset.x0);x1=Number(svg.dataset.x1)}else return;const mid=(x0+x1)/2,half=(x1-x0);go({from:String(Math.round(mid-half)),to:String(Math.round(mid+half))})},
        isolate(row){const fig=row.closest('figure');const i=row.dataset.line;const cur=isolated[fig.dataset.key];const next=cur===i?null:i;if(next===null)delete isolated[fig.dataset.key];else isolated[fig.dataset.key]=next;show(fig,next)},
        sort(th,col){const body=th.closest('table').tBodies[0];const rows=[...body.rows];rows.sort((a,b)=>Number(b.cells[col].dataset.v||0)-Number(a.cells[col].dataset.v||0));rows.forEach(r=>body.appendChild(r));
        for(const h of th.parentNode.children)h.textContent=h.textContent.replace(' ▾','');th.textContent+=' ▾'},
        async saveRetention(form){const max_age={};for(const i of form.querySelectorAll('input'))if(i.name!=='max_bytes'&&i.value)max_age[i.name]=i.value;
        const body={max_age};const mb=form.querySelector('[name=max_bytes]');if(mb&&mb.value)body.max_bytes=mb.value;
        const r=await fetch(url('/api/v2/analytics/retention'),{method:'PUT',headers:{...headers(),'Content-Type':'application/json'},body:JSON.stringify(body)});
        const said=r.ok?'saved':'not saved: '+(await r.json()).detail;if(r.ok)await refresh();
        const s=document.querySelector('form.retention .status');if(s)s.textContent=said},
        async applyRetention(b,confirmed){const r=await fetch(url('/api/v2/analytics/retention/apply',confirmed?{confirm:'true'}:null),{method:'POST',headers:headers()});const j=await r.json();
        if(r.status===409&&!confirmed&&window.confirm(j.detail.split(';')[0]+'. Remove it anyway?'))return sluice.applyRetention(b,true);
        b.nextElementSibling.textContent=r.ok?('removed '+j.removed_records+' records'):j.detail;refresh()}}})();
        """
}
