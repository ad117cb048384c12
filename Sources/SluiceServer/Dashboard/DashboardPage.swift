import Hummingbird
import SluiceModel
import SluiceStore

/// `GET /` and `/dashboard` (all widgets), `/widgets/<name>` (one, for embedding), and
/// `?fragment=1` (a widget's inner HTML, which the page's script fetches to redraw itself when
/// the live stream says something changed). Rendered on the server: the numbers are in the HTML.
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
            if request.uri.queryParameters.get("fragment") == "1" {
                let data = try await gather(request, context, widgets: [widget])
                return Self.html(widget.render(data))
            }
            return try await page(request, context, widgets: [widget])
        }
    }

    func gather(_ request: Request, _ context: SluiceRequestContext, widgets: [DashboardWidget]) async throws -> DashboardData {
        let viewer: String? = if case .tenant(let own) = context.identity { own } else { nil }
        let asked = request.uri.queryParameters.get("tenant")
        if let viewer, let asked, asked != viewer { throw APIError.forbidden("this token sees tenant \(viewer) only") }
        var data = DashboardData(
            snapshot: sink.snapshot(tenant: viewer), tokens: [], budgets: state.tokenMeter.configuration.budgets,
            retention: RetentionRoutes.policy(state.retentionPolicy, seenBy: context.identity), stats: nil, dryRun: nil, viewer: viewer, tenant: asked,
            route: request.uri.queryParameters.get("route"), query: request.uri.query ?? "")
        if widgets.contains(.tokenUsageMonitor) {
            data.tokens = await state.tokenMeter.usage(tenantID: viewer)
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

    func page(_ request: Request, _ context: SluiceRequestContext, widgets: [DashboardWidget]) async throws -> Response {
        let data = try await gather(request, context, widgets: widgets)
        var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        html += "<title>Sluice\(widgets.count == 1 ? " · " + widgets[0].title : "")</title><style>\(Self.css)</style></head><body>"
        html += "<header><h1>Sluice</h1><span class=\"muted\">\(data.viewer.map { "tenant " + escape($0) } ?? "all tenants") · rendered \(escape(RFC3339.format(Timestamp.now()).prefix(19).replacingOccurrences(of: "T", with: " "))) UTC</span>"
        html += "<span id=\"live\" class=\"pill\">connecting…</span></header><main class=\"\(widgets.count == 1 ? "single" : "grid")\">"
        for widget in widgets {
            html += "<section class=\"widget\" id=\"\(widget.rawValue)\"><h2>\(widget.title)</h2><div data-widget=\"\(widget.rawValue)\">\(widget.render(data))</div></section>"
        }
        html += "</main><script>\(Self.script)</script></body></html>"
        return Self.html(html)
    }

    static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = """
        :root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--accent:#2563eb;--bad:#dc2626;--warn:#d97706}
        *{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;gap:16px;align-items:baseline;padding:14px 24px;background:#0f172a;color:#fff}header h1{margin:0;font-size:20px}
        header .muted{color:#cbd5e1}main.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;padding:16px 24px}
        main.single{padding:16px 24px;max-width:900px}.widget{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
        .widget h2{margin:0 0 10px;font-size:16px}.chart{margin:8px 0}.chart figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
        .chart svg{width:100%;height:auto;display:block}.grid line,line.grid{stroke:var(--line)}.axis{font-size:10px;fill:var(--muted)}
        circle.anomaly{fill:var(--bad)}.legend{display:flex;gap:12px;font-size:12px;color:var(--muted)}.legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
        table.numbers{border-collapse:collapse;width:100%;margin:8px 0;font-variant-numeric:tabular-nums}table.numbers th,table.numbers td{padding:4px 6px;border-bottom:1px solid var(--line);text-align:right}
        table.numbers th:first-child,table.numbers td:first-child{text-align:left}th.sort{cursor:pointer;color:var(--accent)}.muted{color:var(--muted)}
        .warn{color:var(--warn);font-weight:600}.pill{background:#e0e7ff;color:#1e3a8a;border-radius:999px;padding:2px 10px;font-size:12px}
        header .pill{background:#1e293b;color:#93c5fd}.controls{display:flex;gap:16px;margin-bottom:6px}.spark{width:100px;height:24px}
        .bar{position:relative;height:10px;background:#e5e7eb;border-radius:5px;min-width:140px;margin-top:4px}.bar span{position:absolute;left:0;top:0;bottom:0;background:var(--accent);border-radius:5px}
        .bar span.near{background:var(--warn)}.bar span.over{background:var(--bad)}.bar i{position:absolute;top:-3px;bottom:-3px;width:2px;background:#111827}
        ul.anomalies,ul.alerts{margin:6px 0;padding-left:18px}ul.anomalies li{margin:2px 0}.score{color:var(--bad);font-weight:600}
        input{font:inherit;padding:2px 4px}button{font:inherit;padding:4px 10px;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;cursor:pointer}
        """

    static let script = """
        const sluice=(()=>{const q=new URLSearchParams(location.search);const token=q.get('token');
        const url=(p,extra)=>{const u=new URL(p,location.href);for(const[k,v]of q)if(k!=='fragment')u.searchParams.set(k,v);if(extra)for(const k in extra)u.searchParams.set(k,extra[k]);return u.toString()};
        const headers=()=>token?{'Authorization':'Bearer '+token}:{};let timer=null;
        async function refresh(){timer=null;for(const el of document.querySelectorAll('[data-widget]')){try{const r=await fetch(url('/widgets/'+el.dataset.widget,{fragment:'1'}),{headers:headers()});if(r.ok)el.innerHTML=await r.text()}catch(e){}}
        document.getElementById('live').textContent='live · updated '+new Date().toISOString().slice(11,19)+' UTC'}
        function soon(){if(!timer)timer=setTimeout(refresh,300)}
        if(window.EventSource){const es=new EventSource(url('/api/v2/analytics/stream'));const live=document.getElementById('live');
        es.onopen=()=>{live.textContent='live'};es.onerror=()=>{live.textContent='reconnecting…'};
        for(const t of['window','cache_window','visits_window','anomaly','budget_alert','token_usage'])es.addEventListener(t,soon)}
        return{select(k,v){q.set(k,v);history.replaceState(null,'','?'+q);refresh()},
        sort(th,col){const body=th.closest('table').tBodies[0];const rows=[...body.rows];rows.sort((a,b)=>Number(b.cells[col].dataset.v||0)-Number(a.cells[col].dataset.v||0));rows.forEach(r=>body.appendChild(r));
        for(const h of th.parentNode.children)h.textContent=h.textContent.replace(' ▾','');th.textContent+=' ▾'},
        async saveRetention(form){const max_age={};for(const i of form.querySelectorAll('input'))if(i.name!=='max_bytes'&&i.value)max_age[i.name]=i.value;
        const body={max_age};const mb=form.querySelector('[name=max_bytes]');if(mb&&mb.value)body.max_bytes=mb.value;
        const r=await fetch(url('/api/v2/analytics/retention'),{method:'PUT',headers:{...headers(),'Content-Type':'application/json'},body:JSON.stringify(body)});
        const s=form.querySelector('.status');s.textContent=r.ok?'saved':'not saved: '+(await r.json()).detail;if(r.ok)refresh();return false},
        async applyRetention(b,confirmed){const r=await fetch(url('/api/v2/analytics/retention/apply',confirmed?{confirm:'true'}:null),{method:'POST',headers:headers()});const j=await r.json();
        if(r.status===409&&!confirmed&&window.confirm(j.detail.split(';')[0]+'. Remove it anyway?'))return sluice.applyRetention(b,true);
        b.nextElementSibling.textContent=r.ok?('removed '+j.removed_records+' records'):j.detail;refresh()}}})();
        """
}
