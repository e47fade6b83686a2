//! The Prometheus exposition (`--metrics-bind`): renders the master's [`Totals`] (the live
//! workers' shared slots summed with those folded from reaped ones; see
//! `scoreboard::counters`) in the text exposition format (version 0.0.4).

use std::fmt::Write as _;

pub(crate) use crate::scoreboard::counters::{
    BUCKETS, NB, NSTATUS, REJECT_CODES, Slot, Table, Totals,
};

/// What the master knows besides the counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct MasterView {
    /// Live workers (not retiring).
    pub workers: u64,
    /// Reaped workers by why they went, `(reason, count)`.
    pub restarts: Vec<(&'static str, u64)>,
    /// The listen queue length (`--enable-backlog-metric`), when known.
    pub backlog: Option<i64>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders the exposition text.
pub(crate) fn render(t: &Totals, m: &MasterView) -> String {
    let mut o = String::with_capacity(4096);
    family(
        &mut o,
        "runicorn_requests_total",
        "counter",
        "Requests answered by the application.",
    );
    let _ = writeln!(o, "runicorn_requests_total {}", t.requests);

    let h = "runicorn_request_duration_seconds";
    family(
        &mut o,
        h,
        "histogram",
        "Time from request head to the end of the response body.",
    );
    let mut cum = 0;
    for (i, le) in BUCKETS.iter().enumerate() {
        cum += t.buckets[i];
        let _ = writeln!(o, "{h}_bucket{{le=\"{le}\"}} {cum}");
    }
    cum += t.buckets[NB - 1];
    let _ = writeln!(o, "{h}_bucket{{le=\"+Inf\"}} {cum}");
    let _ = writeln!(o, "{h}_sum {}", t.duration_us as f64 / 1e6);
    let _ = writeln!(o, "{h}_count {cum}");

    family(
        &mut o,
        "runicorn_responses_total",
        "counter",
        "Application responses by status code.",
    );
    for (i, &n) in t.status.iter().enumerate() {
        if n > 0 {
            let code = if i == NSTATUS - 1 {
                "other".to_string()
            } else {
                (i + 100).to_string()
            };
            let _ = writeln!(o, "runicorn_responses_total{{code=\"{code}\"}} {n}");
        }
    }

    family(
        &mut o,
        "runicorn_rejected_requests_total",
        "counter",
        "Requests the HTTP edge refused before the application, by status code.",
    );
    for (i, &n) in t.rejected.iter().enumerate() {
        let code = REJECT_CODES
            .get(i)
            .map_or("other".to_string(), u16::to_string);
        let _ = writeln!(o, "runicorn_rejected_requests_total{{code=\"{code}\"}} {n}");
    }

    family(
        &mut o,
        "runicorn_slow_client_timeouts_total",
        "counter",
        "Connections cut off by the header, body or send deadline.",
    );
    for (kind, n) in [
        ("header", t.header_timeouts),
        ("body", t.body_timeouts),
        ("send", t.send_timeouts),
    ] {
        let _ = writeln!(
            o,
            "runicorn_slow_client_timeouts_total{{kind=\"{kind}\"}} {n}"
        );
    }

    family(
        &mut o,
        "runicorn_reclaimed_connections_total",
        "counter",
        "Idle connections closed to make room for new clients at --worker-connections.",
    );
    let _ = writeln!(o, "runicorn_reclaimed_connections_total {}", t.reclaimed);

    family(
        &mut o,
        "runicorn_tls_handshakes_total",
        "counter",
        "TLS handshakes by result.",
    );
    let _ = writeln!(
        o,
        "runicorn_tls_handshakes_total{{result=\"ok\"}} {}",
        t.tls_ok
    );
    let _ = writeln!(
        o,
        "runicorn_tls_handshakes_total{{result=\"failed\"}} {}",
        t.tls_failed
    );

    family(
        &mut o,
        "runicorn_workers",
        "gauge",
        "Worker processes currently serving or booting.",
    );
    let _ = writeln!(o, "runicorn_workers {}", m.workers);

    family(
        &mut o,
        "runicorn_worker_restarts_total",
        "counter",
        "Workers reaped by the master, by reason.",
    );
    for (reason, n) in &m.restarts {
        let _ = writeln!(
            o,
            "runicorn_worker_restarts_total{{reason=\"{reason}\"}} {n}"
        );
    }

    if let Some(b) = m.backlog {
        family(
            &mut o,
            "runicorn_listen_backlog",
            "gauge",
            "Connections waiting in the listen queues.",
        );
        let _ = writeln!(o, "runicorn_listen_backlog {b}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoreboard::counters::reject_index;
    use crate::scoreboard::heartbeat::MAX_SLOTS;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    #[test]
    fn fold_keeps_counts_and_clears_the_slot() {
        let table = Table::new(crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS).unwrap());
        let s = table.slot(3);
        s.request(200, Duration::from_millis(2));
        s.request(404, Duration::from_secs(30));
        s.edge.rejected[reject_index(431)].store(2, Relaxed);
        let mut t = Totals::default();
        table.fold(3, &mut t);
        assert_eq!(s.requests.load(Relaxed), 0);
        assert_eq!(t.requests, 2);
        assert_eq!(t.buckets[1], 1, "2 ms is in the 5 ms bucket");
        assert_eq!(t.buckets[NB - 1], 1, "30 s is only in +Inf");
        let text = render(&t, &MasterView::default());
        assert!(
            text.contains("runicorn_responses_total{code=\"404\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("runicorn_rejected_requests_total{code=\"431\"} 2\n"));
        assert!(text.contains("runicorn_request_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("runicorn_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(
            text.contains("runicorn_request_duration_seconds_sum 30.002\n"),
            "{text}"
        );
    }

    #[test]
    fn odd_status_codes_do_not_index_out_of_bounds() {
        let table = Table::new(crate::sys::shared_zeroed_slice::<Slot>(MAX_SLOTS).unwrap());
        let s = table.slot(0);
        s.request(0, Duration::ZERO);
        s.request(999, Duration::ZERO);
        s.request(599, Duration::ZERO);
        let mut t = Totals::default();
        t.add(s);
        assert_eq!(t.status[NSTATUS - 1], 2);
        assert_eq!(t.status[499], 1);
    }
}
