//! The golden cases in `formats/golden/`: each holds a format, the request/response record
//! (with the time, pid and duration Gunicorn observed) and the line real Gunicorn 27 wrote
//! (`formats/capture.py` regenerates them). Runicorn must produce that line exactly, or the
//! case's `runicorn` line where it deliberately differs (escaping; `why` says how).

use std::path::Path;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Version};
use serde_json::Value;

use super::{Context, Format, Record};

/// JSON strings in the cases hold one char per byte (latin-1), as Gunicorn decodes them.
fn latin1(v: &Value) -> Vec<u8> {
    v.as_str()
        .expect("string")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
        .collect()
}

fn header_map(v: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for pair in v.as_array().expect("header list") {
        let name = HeaderName::from_bytes(&latin1(&pair[0])).expect("header name");
        map.append(
            name,
            HeaderValue::from_bytes(&latin1(&pair[1])).expect("header value"),
        );
    }
    map
}

fn version(s: &str) -> Version {
    match s {
        "HTTP/1.0" => Version::HTTP_10,
        "HTTP/1.1" => Version::HTTP_11,
        "HTTP/2.0" => Version::HTTP_2,
        other => panic!("version {other}"),
    }
}

#[test]
fn golden_cases_match_gunicorn() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/golden");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("formats/golden")
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = &case["record"];
        let target = String::from_utf8(latin1(&r["target"])).expect("ASCII target");
        let req = header_map(&r["request_headers"]);
        let resp = header_map(&r["response_headers"]);
        let record = Record {
            peer: r["peer"].as_str().map(|p| p.parse().unwrap()),
            method: r["method"].as_str(),
            target: Some(&target),
            version: Some(version(r["version"].as_str().unwrap())),
            request_headers: Some((&req).into()),
            status: u16::try_from(r["status"].as_u64().unwrap()).unwrap(),
            response_headers: Some((&resp).into()),
            body_bytes: r["body_bytes"].as_u64(),
            duration: Duration::from_micros(r["duration_us"].as_u64().unwrap()),
            url_scheme: r["url_scheme"].as_str().unwrap(),
            server_name: r["server_name"].as_str().unwrap(),
            server_port: r["server_port"].as_str().unwrap(),
            script_name: "",
        };
        let cx = Context {
            clf_time: r["time"].as_str().unwrap(),
            iso_time: "",
            pid: u32::try_from(r["pid"].as_u64().unwrap()).unwrap(),
        };
        let format = Format::compile(case["format"].as_str().unwrap()).unwrap();
        let got = format.render_to_string(&record, &cx);
        let want = case
            .get("runicorn")
            .unwrap_or(&case["gunicorn"])
            .as_str()
            .unwrap();
        if got != want {
            failures.push(format!(
                "{}:\n  want {want:?}\n  got  {got:?}",
                path.display()
            ));
        }
        // The server renders from captured headers: same bytes.
        let captured = super::render::render_captured(&format, &record, &cx);
        if captured != want {
            failures.push(format!(
                "{} (captured):\n  want {want:?}\n  got  {captured:?}",
                path.display()
            ));
        }
        // Every format Gunicorn accepted survives the Display round trip.
        assert_eq!(Format::compile(&format.to_string()).unwrap(), format);
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 20, "only {checked} golden cases found");
}
