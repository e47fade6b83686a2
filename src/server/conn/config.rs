//! A worker's edge configuration: deadlines, limits and the gate's rules, built once from
//! the settings.

use std::time::Duration;

use crate::http::gate::GateConfig;

/// A year: the longest deadline a connection gets ("never", for disabled or huge settings).
pub(in crate::server) const NEVER_SECS: u64 = 86400 * 365;

/// Edge deadlines and limits of one worker.
#[derive(Debug, Clone)]
pub(crate) struct EdgeConfig {
    /// `--keep-alive`: idle time allowed between requests (0: hyper closes after each).
    pub keepalive: Duration,
    /// `--header-timeout`.
    pub header_timeout: Duration,
    /// `--body-timeout`.
    pub body_timeout: Duration,
    /// `--body-min-rate` in bytes/s (0 disables).
    pub body_min_rate: u64,
    /// `--send-timeout`.
    pub send_timeout: Duration,
    /// Gate configuration template (rules, PROXY mode); `proxy_allowed`/`peer_ip` are
    /// filled per connection.
    pub gate: GateConfig,
    /// Peers allowed to send PROXY headers.
    pub proxy_allow: crate::server::trust::IpList,
    /// Peers trusted for forwarded headers.
    pub forwarded_allow: crate::server::trust::IpList,
}

impl EdgeConfig {
    /// The edge configuration of a worker, from its settings.
    pub(crate) fn from_settings(s: &crate::config::Settings) -> EdgeConfig {
        use crate::http::head::Rules;
        // 0 disables a deadline: a year is "never" for a connection. Larger values are
        // capped to it too, so deadline arithmetic can never overflow an Instant.
        let secs = |n: u64| Duration::from_secs(n.min(NEVER_SECS));
        let or_never = |n: u64| if n == 0 { secs(NEVER_SECS) } else { secs(n) };
        let rules = Rules {
            limit_request_line: s.limit_request_line as usize,
            limit_request_fields: s.limit_request_fields as usize,
            limit_request_field_size: s.limit_request_field_size as usize,
            permit_unconventional_http_method: s.permit_unconventional_http_method,
            casefold_http_method: s.casefold_http_method,
            permit_unconventional_http_version: s.permit_unconventional_http_version,
            permit_obsolete_folding: s.permit_obsolete_folding,
            strip_header_spaces: s.strip_header_spaces,
            header_map: s.header_map,
            forwarder_headers: s
                .forwarder_headers
                .iter()
                .map(|h| h.to_ascii_uppercase())
                .collect(),
            peer_trusted: false,
        };
        let proxy_mode = s.proxy_protocol;
        EdgeConfig {
            keepalive: secs(s.keepalive),
            header_timeout: or_never(s.header_timeout),
            body_timeout: or_never(s.body_timeout),
            body_min_rate: s.body_min_rate,
            send_timeout: or_never(s.send_timeout),
            gate: GateConfig {
                rules,
                proxy_mode,
                proxy_allowed: false,
                peer_ip: String::new(),
                limit_request_body: s.limit_request_body,
            },
            proxy_allow: crate::server::trust::IpList::new(&s.proxy_allow_ips),
            forwarded_allow: crate::server::trust::IpList::new(&s.forwarded_allow_ips),
        }
    }
}
